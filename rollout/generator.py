"""An Engine seen as auction's `Generator` protocol: one request at a time, with instructions and prefixes.

The baseline mechanisms (MOSAIC, segment, prominence) call a generator per request; this adapter
renders the Ad-LLM prompt (plus any instruction), continues from `prefix`, and returns Generations.
"""
from __future__ import annotations

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

    def generate(self, request: AuctionRequest, n: int, *, instruction: str | None = None, prefix: str = "",
                 seed: int = 0) -> list[Generation]:
        prompt = self.engine.chat_prompt(ad_llm_messages(request, self.style, instruction)) + prefix
        self.calls += 1
        rules = mention_rules(self.engine, [request], self.mask)
        (samples,) = self.engine.generate([prompt], n, self.sampling, seed, token_rules=rules)
        return [Generation(s.text, logprob=s.logprob) for s in samples]
