"""DPO on winner-vs-loser pairs (METHOD.md section 4), with completion-only log-probs.

Only completion positions go through the LM head, and the fp32 log-softmax runs a chunk of positions
at a time: the full-vocabulary logits of every prompt position dominate memory otherwise (ENV.md:
0.6B, 8 pairs x 1024 tokens, 63 GB -> 43 GB at the same speed).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def completion_logprobs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        completion_mask: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """Sum of log p(token) over each sequence's completion tokens (completion_mask marks them)."""
    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = completion_mask[:, 1:].bool()  # position t predicts token t + 1
    rows, cols = targets.nonzero(as_tuple=True)
    states = hidden[:, :-1][rows, cols]
    tokens = input_ids[:, 1:][rows, cols]
    head = model.get_output_embeddings()
    picked = []
    for start in range(0, states.shape[0], chunk):
        logits = head(states[start : start + chunk]).float()
        picked.append(logits.log_softmax(-1).gather(-1, tokens[start : start + chunk, None]).squeeze(-1))
    per_token = torch.cat(picked) if picked else hidden.new_zeros(0, dtype=torch.float32)
    return torch.zeros(input_ids.shape[0], dtype=torch.float32, device=input_ids.device).index_add(0, rows, per_token)


@dataclass(frozen=True)
class DPOStats:
    loss: torch.Tensor
    chosen_reward: float
    rejected_reward: float
    margin: float
    accuracy: float


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, weights: torch.Tensor, beta: float) -> DPOStats:
    """-log sigmoid(beta [(pi_w - ref_w) - (pi_l - ref_l)]), each pair weighted by 1/|S| of its prompt.

    Normalising by the weights' sum makes the batch loss the mean over prompts of each prompt's mean
    over its losers when a batch holds whole prompts, and an unbiased estimate of it otherwise.
    """
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    margins = chosen - rejected
    loss = (weights * -F.logsigmoid(margins)).sum() / weights.sum()
    return DPOStats(loss, chosen.mean().item(), rejected.mean().item(), margins.mean().item(),
                    (margins > 0).float().mean().item())
