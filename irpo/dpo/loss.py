"""DPO on winner-vs-loser pairs (METHOD.md section 4), with completion-only, masked log-probs.

A preference record's winner and losers share its prompt: `shared_prompt_logprobs` runs each prompt
through the model once and its completions on the prompt's cached keys and values (the prompt is ~85%
of a tiny-world sequence, and ~3k of ~3.1k tokens at paper scale). Only completion positions go
through the LM head, and the fp32 log-softmax runs a chunk of positions at a time: the full-vocabulary
logits of every prompt position dominate memory otherwise (ENV.md: 0.6B, 8 pairs x 1024 tokens,
63 GB -> 43 GB at the same speed).

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
    return _summed_logprobs(model, hidden[:, :-1][rows, cols], rows, input_ids[:, 1:][rows, cols],
                            input_ids.shape[0], chunk, banned, once)


def shared_prompt_logprobs(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor,
                           completion_mask: torch.Tensor, owner: torch.Tensor, chunk: int = 128,
                           banned: Sequence[Sequence[int]] | None = None,
                           once: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """The sums `completion_logprobs` gives for the sequences prompt[owner[r]] + completion[r], with each
    prompt through the model once: its keys and values are computed in one pass over the (right-padded)
    prompts, then shared by all of its completions, which run as one batch on that cache. Gradients
    flow into the shared prompt pass. `banned`/`once` are per completion row.
    """
    decoder = model.get_decoder()
    prompts = decoder(input_ids=prompt_ids, attention_mask=prompt_mask, use_cache=True)
    cache = prompts.past_key_values
    cache.batch_select_indices(owner)
    lengths = prompt_mask.sum(1)
    width = completion_ids.shape[1]
    positions = lengths[owner, None] + torch.arange(width, device=completion_ids.device)
    hidden = decoder(input_ids=completion_ids, attention_mask=torch.cat([prompt_mask[owner], completion_mask], 1),
                     position_ids=positions, past_key_values=cache, use_cache=True).last_hidden_state
    rows, cols = completion_mask.bool().nonzero(as_tuple=True)
    # token 0 of a completion is predicted at its prompt's last position, token t > 0 at completion t - 1
    last_prompt_state = prompts.last_hidden_state[owner[rows], lengths[owner[rows]] - 1]
    states = torch.where((cols == 0)[:, None], last_prompt_state, hidden[rows, (cols - 1).clamp(min=0)])
    return _summed_logprobs(model, states, rows, completion_ids[rows, cols], completion_ids.shape[0], chunk,
                            banned, once)


def _summed_logprobs(model, states: torch.Tensor, rows: torch.Tensor, tokens: torch.Tensor, n_rows: int, chunk: int,
                     banned, once) -> torch.Tensor:
    """Per row, the summed log-prob of `tokens` (in sequence order within each row) given the hidden
    `states` that predict them: only these positions go through the LM head, `chunk` at a time."""
    disallowed = _disallowed(rows, tokens, banned, once) if banned is not None or once is not None else None
    head = model.get_output_embeddings()
    picked = []
    for start in range(0, states.shape[0], chunk):
        logits = head(states[start : start + chunk]).float()
        if disallowed is not None:
            logits = logits.masked_fill(_dense(disallowed, start, logits.shape, logits.device), float("-inf"))
        picked.append(logits.log_softmax(-1).gather(-1, tokens[start : start + chunk, None]).squeeze(-1))
    per_token = torch.cat(picked) if picked else states.new_zeros(0, dtype=torch.float32)
    return torch.zeros(n_rows, dtype=torch.float32, device=states.device).index_add(0, rows, per_token)


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


def _dense(disallowed: tuple[list[int], list[int]], start: int, shape: torch.Size, device) -> torch.Tensor:
    positions, excluded = disallowed
    mask = torch.zeros(shape, dtype=torch.bool, device=device)
    index = torch.tensor(positions, dtype=torch.long, device=device) - start
    keep = (index >= 0) & (index < shape[0])
    mask[index[keep], torch.tensor(excluded, dtype=torch.long, device=device)[keep]] = True
    return mask


@dataclass(frozen=True)
class DPOStats:
    """`loss`: what one micro-batch backpropagates (see `dpo_loss` for its scaling). Every other field is
    detached and a mean over this micro-batch, unscaled: the objective per prompt (`per_prompt`), its
    DPO and NLL terms, the winners' and the losers' implicit rewards beta log(pi/pi_ref), the margin and
    the share of pairs ranked right, and an estimate of KL(pi_ref || pi) from the sampled answers (the
    mean of log pi_ref - log pi over winners and losers: they were drawn from pi_ref)."""

    loss: torch.Tensor
    per_prompt: torch.Tensor
    dpo: torch.Tensor
    nll: torch.Tensor
    chosen_reward: torch.Tensor
    rejected_reward: torch.Tensor
    margin: torch.Tensor
    accuracy: torch.Tensor
    kl: torch.Tensor

    def floats(self) -> dict[str, float]:
        """The statistics as numbers (one device sync for all of them), for the loop's history."""
        names = ("per_prompt", "dpo", "nll", "chosen_reward", "rejected_reward", "margin", "accuracy", "kl")
        return dict(zip(names, torch.stack([getattr(self, n).float() for n in names]).tolist()))


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, group: torch.Tensor, beta: float, prompts: int,
             chosen_tokens: torch.Tensor | None = None, nll_weight: float = 0.0,
             dpo_weight: float = 1.0) -> DPOStats:
    """The policy phase's loss on one micro-batch of preference records, and its statistics.

    `policy_chosen`/`ref_chosen`: one summed log-prob per prompt (its winner); `policy_rejected`/
    `ref_rejected`: one per loser, `group[l]` the index of its prompt; `chosen_tokens`: each winner's
    completion length. Per prompt p with losers S_p:

        L_p = dpo_weight * (1/|S_p|) sum_{l in S_p} -log sigmoid(beta [(pi_w - ref_w) - (pi_l - ref_l)])
              + nll_weight * (-pi_w / |y_w|)

    The second term is the winner's per-token negative log-likelihood, as in RPO / TRL's `rpo_alpha`
    (nll_weight 0 is the paper's pure DPO; dpo_weight 0 leaves fine-tuning on the winners alone, an
    ablation). It is reported whenever `chosen_tokens` is given, whatever its weight. Normalisation, owned here: the micro-batch's L_p are summed and divided by `prompts`,
    the prompts a full micro-batch holds (a fixed number, not this batch's count); DeepSpeed then divides
    by the gradient-accumulation steps and averages over workers. So an optimizer step's gradient is
    the mean of L_p over the step's prompts, whatever the micro-batching and the worker count, and a
    short last micro-batch weighs its prompts like the others.
    """
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    margins = chosen[group] - rejected
    losers = torch.zeros_like(chosen).index_add(0, group, torch.ones_like(rejected))
    dpo_per_prompt = torch.zeros_like(chosen).index_add(0, group, -F.logsigmoid(margins) / losers[group])
    if chosen_tokens is not None:
        nll_per_prompt = -policy_chosen / chosen_tokens.clamp(min=1).to(policy_chosen.dtype)
    elif nll_weight:
        raise ValueError("dpo_loss: nll_weight > 0 needs chosen_tokens (each winner's completion length)")
    else:
        nll_per_prompt = torch.zeros_like(chosen)
    per_prompt = dpo_weight * dpo_per_prompt + nll_weight * nll_per_prompt
    log_ratios = torch.cat([policy_chosen - ref_chosen, policy_rejected - ref_rejected]).detach()
    return DPOStats(per_prompt.sum() / prompts, per_prompt.detach().mean(), dpo_per_prompt.detach().mean(),
                    nll_per_prompt.detach().mean(), chosen.detach().mean(), rejected.detach().mean(),
                    margins.detach().mean(), (margins.detach() > 0).float().mean(), -log_ratios.mean())
