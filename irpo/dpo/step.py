"""One DPO micro-batch as plain torch: preference records -> padded sequences -> masked completion
log-probs -> the loss. The Ray Train loop, the reference actor and benchmarks/gpu_check.py all call
these functions, on whatever device the model is on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from irpo.dpo.loss import DPOStats, completion_logprobs, dpo_loss, shared_prompt_logprobs
from irpo.dpo.pairs import group_tensors, shared_prompt_tensors


@dataclass(frozen=True)
class PreferenceLogprobs:
    """Summed completion log-probs of a micro-batch: one per winner, one per loser (`group`: the index of
    its prompt), and each winner's completion length in tokens."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    group: torch.Tensor
    chosen_tokens: torch.Tensor


@dataclass(frozen=True)
class PreferenceObjective:
    """What `dpo_loss` weighs: beta, the weights of its DPO and NLL terms, and the prompts a full
    micro-batch holds (its normaliser); and whether a record's completions share its prompt's pass."""

    beta: float
    nll_weight: float
    dpo_weight: float
    prompts: int
    share_prompt: bool = True


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def preference_logprobs(model, batch: dict, pad_id: int, share_prompt: bool = True) -> PreferenceLogprobs:
    """Log-probs of every record's winner and losers under the model, masked by each record's decoding
    rules; the batch's tensors are built on the model's device. With `share_prompt` each record's
    prompt goes through the model once for all its completions (equal log-probs, fewer FLOPs); a model
    that recomputes activations (gradient checkpointing) keeps no cache, so it runs whole sequences."""
    winners = len(batch["prompt_ids"])
    if share_prompt and not getattr(model, "is_gradient_checkpointing", False):
        tensors, group, rules = shared_prompt_tensors(batch, pad_id, model_device(model))
        logps = shared_prompt_logprobs(model, **tensors, **rules)
    else:
        tensors, group, rules = group_tensors(batch, pad_id, model_device(model))
        logps = completion_logprobs(model, **tensors, **rules)
    # both layouts mark exactly the completion tokens, winners first
    return PreferenceLogprobs(logps[:winners], logps[winners:], group, tensors["completion_mask"][:winners].sum(1))


def reference_tensors(batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The records' precomputed reference log-probs (winners; losers in record order) on `device`."""
    chosen = np.asarray(batch["ref_chosen"], dtype=np.float32)
    rejected = np.concatenate([np.asarray(r, dtype=np.float32) for r in batch["ref_rejected"]])
    return torch.from_numpy(chosen).to(device), torch.from_numpy(rejected).to(device)


def preference_loss(model, batch: dict, pad_id: int, objective: PreferenceObjective) -> DPOStats:
    """The loss of one micro-batch of preference records carrying their reference log-probs."""
    policy = preference_logprobs(model, batch, pad_id, objective.share_prompt)
    ref_chosen, ref_rejected = reference_tensors(batch, policy.chosen.device)
    return dpo_loss(policy.chosen, policy.rejected, ref_chosen, ref_rejected, policy.group, objective.beta,
                    objective.prompts, policy.chosen_tokens, objective.nll_weight, objective.dpo_weight)
