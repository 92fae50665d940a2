"""TokenRules inside vLLM: a per-request logits processor (vLLM v1 `AdapterLogitsProcessor`).

Registered once when the engine is built; each request carries its rules in `SamplingParams.extra_args`
(`token_rules`). Imports vllm at module level, so only the vLLM engine imports this module.
"""
from __future__ import annotations

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

EXTRA_ARG = "token_rules"


class TokenRulesProcessor(AdapterLogitsProcessor):
    def is_argmax_invariant(self) -> bool:
        return False  # a banned token may be the argmax: greedy decoding must see the ban too

    def new_req_logits_processor(self, params: SamplingParams):
        rules = (params.extra_args or {}).get(EXTRA_ARG)
        if not rules:
            return None
        banned, once = list(rules["banned"]), frozenset(rules["once"])

        def apply(output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
            used = once.intersection(output_ids) if once else ()
            if banned or used:
                logits[[*banned, *used]] = float("-inf")
            return logits

        return apply
