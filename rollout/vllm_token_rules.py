"""TokenRules inside vLLM: one batch-level logits processor (vLLM v1 `LogitsProcessor`).

Registered once when the engine is built; each request carries its rules in `SamplingParams.extra_args`
(`token_rules`). Per step it masks every ruled row in one indexed write, instead of one Python call per
request (15% of a tiny policy's generation time with per-request closures). A token allowed once is
banned from the step after the request sampled it. Imports vllm at module level, so only the vLLM
engine imports this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality

EXTRA_ARG = "token_rules"


@dataclass
class _RowRules:
    banned: list[int]
    once: frozenset[int]
    output: list[int]  # vLLM's live list of the request's generated tokens
    seen: int = 0  # how many of `output` have been checked against `once`
    used: list[int] = field(default_factory=list)

    def columns(self) -> list[int]:
        """Banned tokens now, after folding in the once-tokens sampled since the last step."""
        if self.once and self.seen < len(self.output):
            self.used += [t for t in self.output[self.seen:] if t in self.once]
            self.seen = len(self.output)
        return self.banned + self.used


class TokenRulesProcessor(LogitsProcessor):
    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        self.device = device
        self.rows: dict[int, _RowRules] = {}

    def is_argmax_invariant(self) -> bool:
        return False  # a banned token may be the argmax: greedy decoding must see the ban too

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self.rows.pop(index, None)
        for index, params, _, output in batch_update.added:
            rules = _rules_of(params)
            if rules is None:
                self.rows.pop(index, None)
            else:
                self.rows[index] = _RowRules(list(rules["banned"]), frozenset(rules["once"]), output)
        for a, b, direction in batch_update.moved:
            first, second = self.rows.pop(a, None), self.rows.pop(b, None)
            if first is not None:
                self.rows[b] = first
            if second is not None and direction == MoveDirectionality.SWAP:
                self.rows[a] = second

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.rows:
            return logits
        rows, columns = [], []
        for index, rules in self.rows.items():
            banned = rules.columns()
            rows += [index] * len(banned)
            columns += banned
        if columns:
            logits[torch.tensor(rows, device=self.device), torch.tensor(columns, device=self.device)] = float("-inf")
        return logits


def _rules_of(params: SamplingParams) -> dict | None:
    rules = (params.extra_args or {}).get(EXTRA_ARG)
    return rules if rules and (rules["banned"] or rules["once"]) else None
