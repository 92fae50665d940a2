"""DPO on winner-vs-loser pairs (METHOD.md section 4), with completion-only, masked log-probs.

Only completion positions go through the LM head, and the fp32 log-softmax runs a chunk of positions
at a time: the full-vocabulary logits of every prompt position dominate memory otherwise (ENV.md:
0.6B, 8 pairs x 1024 tokens, 63 GB -> 43 GB at the same speed).

With decoding rules (tokens a request bans, tokens allowed once: rollout.mention_mask) the answers were
sampled from the model's distribution renormalised over the allowed tokens, so that is the
distribution whose log-probs DPO compares; without rules it is the plain softmax.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def completion_logprobs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        completion_mask: torch.Tensor, chunk: int = 128,
                        banned: Sequence[Sequence[int]] | None = None,
                        once: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """Sum of log p(token) over each sequence's completion tokens (completion_mask marks them).

    `banned[row]` / `once[row]`: that sequence's decoding rules; p is then renormalised over the tokens
    allowed at each position (a once-token is no longer allowed after it appeared in the completion).
    """
    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = completion_mask[:, 1:].bool()  # position t predicts token t + 1
    rows, cols = targets.nonzero(as_tuple=True)
    states = hidden[:, :-1][rows, cols]
    tokens = input_ids[:, 1:][rows, cols]
    disallowed = _disallowed(rows, tokens, banned, once) if banned is not None or once is not None else None
    head = model.get_output_embeddings()
    picked = []
    for start in range(0, states.shape[0], chunk):
        logits = head(states[start : start + chunk]).float()
        if disallowed is not None:
            logits = logits.masked_fill(_dense(disallowed, start, logits.shape), float("-inf"))
        picked.append(logits.log_softmax(-1).gather(-1, tokens[start : start + chunk, None]).squeeze(-1))
    per_token = torch.cat(picked) if picked else hidden.new_zeros(0, dtype=torch.float32)
    return torch.zeros(input_ids.shape[0], dtype=torch.float32, device=input_ids.device).index_add(0, rows, per_token)


def _disallowed(rows: torch.Tensor, tokens: torch.Tensor, banned, once) -> tuple[list[int], list[int]]:
    """(position, token) pairs that the rules exclude at each completion position, in `rows` order."""
    positions, excluded = [], []
    seen: dict[int, set[int]] = {}
    for position, (row, token) in enumerate(zip(rows.tolist(), tokens.tolist())):
        used = seen.setdefault(row, set())
        ruled = [*(banned[row] if banned is not None else ()), *used]
        ruled = [t for t in ruled if t != token]  # the sampled token was allowed when it was sampled
        positions += [position] * len(ruled)
        excluded += ruled
        if once is not None and token in once[row]:
            used.add(token)
    return positions, excluded


def _dense(disallowed: tuple[list[int], list[int]], start: int, shape: torch.Size) -> torch.Tensor:
    positions, excluded = disallowed
    mask = torch.zeros(shape, dtype=torch.bool)
    index = torch.tensor(positions, dtype=torch.long) - start
    keep = (index >= 0) & (index < shape[0])
    mask[index[keep], torch.tensor(excluded, dtype=torch.long)[keep]] = True
    return mask


@dataclass(frozen=True)
class DPOStats:
    loss: torch.Tensor
    chosen_reward: float
    rejected_reward: float
    margin: float
    accuracy: float


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, group: torch.Tensor, beta: float, prompts: float) -> DPOStats:
    """-log sigmoid(beta [(pi_w - ref_w) - (pi_l - ref_l)]) for every loser l of every prompt.

    `policy_chosen`/`ref_chosen`: one entry per prompt (its winner); `policy_rejected`/`ref_rejected`:
    one per loser, `group[l]` the index of its prompt. Each prompt's losers are averaged (1/|S|), and
    the prompts are summed and divided by `prompts`, the number of prompts in one optimizer step: so
    every prompt weighs the same in the step, however its micro-batch is filled.
    """
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    margins = chosen[group] - rejected
    losers = torch.zeros_like(chosen).index_add(0, group, torch.ones_like(rejected))
    loss = (-F.logsigmoid(margins) / losers[group]).sum() / prompts
    return DPOStats(loss, chosen.mean().item(), rejected.mean().item(), margins.mean().item(),
                    (margins > 0).float().mean().item())
