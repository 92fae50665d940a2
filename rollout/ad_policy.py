"""The ad policy: an engine seen through the auction. The one place that turns auction requests into
prompts and decoding rules, generates, and says whether a request fits the model's context.

Rollout workers, the serving deployment and the baselines' generator all go through it; the DPO pairs
rebuild the same prompts with `prompt_text` and the same rules with `rollout.mention_mask`.
"""
from __future__ import annotations

from collections.abc import Sequence

from auction.types import AuctionRequest
from rollout.config import SamplingConfig
from rollout.engine import Engine, Sample
from rollout.mention_mask import mention_rules
from rollout.prompt import PromptStyle, ad_llm_messages


def prompt_text(tokenizer, request: AuctionRequest, style: PromptStyle) -> str:
    """The request's prompt through the model's chat template, ready for generation."""
    return tokenizer.apply_chat_template(ad_llm_messages(request, style), tokenize=False, add_generation_prompt=True)


class AdPolicy:
    def __init__(self, engine: Engine, style: PromptStyle, mask_absent_ads: bool = True):
        self.engine, self.style, self.mask_absent_ads = engine, style, mask_absent_ads

    def prompt(self, request: AuctionRequest) -> str:
        return prompt_text(self.engine.tokenizer, request, self.style)

    def generate(self, requests: Sequence[AuctionRequest], n: int, sampling: SamplingConfig,
                 seed: int | Sequence[int], *, shown: Sequence[tuple[str, ...]] | None = None,
                 logprobs: bool = True) -> list[list[Sample]]:
        """`n` answers per request (`seed`: one for the call, or one per request: `Engine.generate`). With
        `shown` (ad IDs per request, allocated before generation) the prompt lists only those ads and
        the decoding rules require each once, in order."""
        offered = list(requests) if shown is None else [r.restricted_to(ads) for r, ads in zip(requests, shown)]
        rules = mention_rules(self.engine, offered, self.mask_absent_ads, None if shown is None else list(shown),
                              budget=sampling.max_tokens)
        prompts = [self.prompt(r) for r in offered]
        return self.engine.generate(prompts, n, sampling, seed, token_rules=rules, logprobs=logprobs)

    def context_problem(self, request: AuctionRequest, max_tokens: int) -> str | None:
        """Why `request` cannot be answered in `max_tokens` within the model's context; None if it can."""
        tokens = len(self.engine.tokenizer.encode(self.prompt(request), add_special_tokens=False))
        limit = self.engine.context_length
        if tokens + max_tokens <= limit:
            return None
        return (f"prompt: {tokens} tokens (query, profile and {len(request.candidates)} ads) plus "
                f"sampling.max_tokens {max_tokens} exceed the model's context of {limit} tokens; "
                "shorten the query or titles, send fewer ads or ask for fewer tokens")
