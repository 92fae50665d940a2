"""Masking mentions of ads that are not in the auction, for tokenizers that hold whole mentions as tokens.

The tiny tokenizer makes each catalogue ad's `@Title@[ID]` one token, so a policy can "mention" an ad
the request never offered (an unknown_id format error). Banning those tokens at sampling time enforces
the auction's rule that only candidates can be shown. Tokenizers without such tokens (Qwen3, SmolLM2)
get an empty mask: their mentions are spelled out and checked by the parser.
With whole mentions as tokens, a lone `@` token can only begin a malformed mention (`@Title@` with no
ID): it is banned too; and each candidate's mention may be sampled once (a repeat is a duplicate
error). So a sampled answer's mentions are distinct whole candidate mentions, or none.
"""
from __future__ import annotations

import functools
import re

from auction.types import AuctionRequest
from rollout.engine import TokenRules

MENTION_TOKEN = re.compile(r"^@[^@\n]+@\[([^\]\n]+)\]$")


class MentionMask:
    def __init__(self, tokenizer):
        vocab = dict(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]))  # same order in every process
        self.by_ad = {m.group(1): token_id for token, token_id in vocab.items() if (m := MENTION_TOKEN.match(token))}
        self.lone_at = [vocab[t] for t in ("@", " @") if t in vocab] if self.by_ad else []
        self.stop = (tokenizer.eos_token_id,) if tokenizer.eos_token_id is not None else ()

    def banned(self, request: AuctionRequest) -> list[int]:
        """Whole-mention tokens of ads that are not candidates of `request`, and the lone `@` tokens."""
        return [token_id for ad_id, token_id in self.by_ad.items() if ad_id not in request.by_id] + self.lone_at

    def rules(self, request: AuctionRequest, shown: tuple[str, ...] | None = None, budget: int = 0) -> TokenRules:
        """Non-candidates' mentions and lone `@` never; each candidate's mention at most once; with `shown`,
        exactly those ads' mentions, in that order, before the answer may end (forced near the end of a
        `budget` of tokens if still missing)."""
        once = tuple(token_id for ad_id, token_id in self.by_ad.items() if ad_id in request.by_id)
        required = tuple(self.by_ad[a] for a in shown) if shown is not None else ()
        return TokenRules(banned=tuple(self.banned(request)), once=once, required=required,
                          stop=self.stop if required else (), deadline=budget if required else 0)


@functools.lru_cache(maxsize=8)
def mention_mask(tokenizer) -> MentionMask:
    """One vocabulary scan per tokenizer (a Qwen vocabulary has 150k entries; callers ask per request)."""
    return MentionMask(tokenizer)


def mention_rules(engine, requests: list[AuctionRequest], enabled: bool,
                  shown: list[tuple[str, ...]] | None = None, budget: int = 0) -> list[TokenRules] | None:
    """Each request's decoding rules, or None when masking is off or the tokenizer has no mention tokens."""
    if not enabled:
        return None
    mask = mention_mask(engine.tokenizer)
    if not mask.by_ad:
        return None
    return [mask.rules(r, None if shown is None else shown[i], budget) for i, r in enumerate(requests)]
