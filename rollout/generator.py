"""An ad policy seen as auction's `Generator` protocol: a batch of requests in one engine call.

The baseline mechanisms and the bid-response curves call it. For a mechanism that allocates before
generating (`shown`), the prompt lists only the allocated ads, and where the tokenizer holds whole
mentions as tokens the decoding rules require each of them once, in order (rollout.ad_policy).
"""
from __future__ import annotations

from collections.abc import Sequence

from auction.mechanisms.protocols import Generation
from auction.types import AuctionRequest
from rollout.ad_policy import AdPolicy
from rollout.config import SamplingConfig
from rollout.engine import Engine
from rollout.prompt import PromptStyle


class EngineGenerator:
    def __init__(self, engine: Engine, style: PromptStyle, sampling: SamplingConfig, mask_absent_ads: bool = True):
        self.policy, self.sampling = AdPolicy(engine, style, mask_absent_ads), sampling
        self.calls = 0

    def generate(self, requests: Sequence[AuctionRequest], n: int, *, seed: int = 0,
                 shown: Sequence[tuple[str, ...]] | None = None) -> list[list[Generation]]:
        self.calls += 1
        batches = self.policy.generate(requests, n, self.sampling, seed, shown=shown)
        return [[Generation(s.text, logprob=s.logprob) for s in samples] for samples in batches]
