"""An Engine seen as auction's `Generator` protocol: a batch of requests in one engine call.

The baseline mechanisms and the bid-response curves call it. For a mechanism that allocates before
generating (`shown`), the prompt lists only the allocated ads, and where the tokenizer holds whole
mentions as tokens the decoding rules require each of them once, in order (rollout.mention_mask).
"""
from __future__ import annotations

from collections.abc import Sequence

from auction.mechanisms.protocols import Generation
from auction.types import AuctionRequest
from rollout.config import SamplingConfig
from rollout.engine import Engine
from rollout.mention_mask import mention_rules
from rollout.prompt import PromptStyle, ad_llm_messages


class EngineGenerator:
    def __init__(self, engine: Engine, style: PromptStyle, sampling: SamplingConfig, mask_absent_ads: bool = True):
        self.engine, self.style, self.sampling, self.mask = engine, style, sampling, mask_absent_ads
        self.calls = 0

    def generate(self, requests: Sequence[AuctionRequest], n: int, *, seed: int = 0,
                 shown: Sequence[tuple[str, ...]] | None = None) -> list[list[Generation]]:
        offered = list(requests) if shown is None else [r.restricted_to(ads) for r, ads in zip(requests, shown)]
        prompts = [self.engine.chat_prompt(ad_llm_messages(r, self.style)) for r in offered]
        rules = mention_rules(self.engine, offered, self.mask, None if shown is None else list(shown),
                              budget=self.sampling.max_tokens)
        self.calls += 1
        batches = self.engine.generate(prompts, n, self.sampling, seed, token_rules=rules)
        return [[Generation(s.text, logprob=s.logprob) for s in samples] for samples in batches]
