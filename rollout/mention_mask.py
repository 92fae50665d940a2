"""Masking mentions of ads that are not in the auction, for tokenizers that hold whole mentions as tokens.

The tiny tokenizer makes each catalogue ad's `@Title@[ID]` one token, so a policy can "mention" an ad
the request never offered (an unknown_id format error). Banning those tokens at sampling time enforces
the auction's rule that only candidates can be shown. Tokenizers without such tokens (Qwen3, SmolLM2)
get an empty mask: their mentions are spelled out and checked by the parser.
"""
from __future__ import annotations

import functools
import re

from auction.types import AuctionRequest

MENTION_TOKEN = re.compile(r"^@[^@\n]+@\[([^\]\n]+)\]$")
BAN = -100.0  # vLLM's strongest logit bias: exp(-100) is zero at any sampling temperature


class MentionMask:
    def __init__(self, tokenizer):
        vocab = tokenizer.get_vocab()
        self.by_ad = {m.group(1): token_id for token, token_id in vocab.items() if (m := MENTION_TOKEN.match(token))}

    def banned(self, request: AuctionRequest) -> list[int]:
        """Token ids of whole-mention tokens whose ad is not a candidate of `request`."""
        return [token_id for ad_id, token_id in self.by_ad.items() if ad_id not in request.by_id]


@functools.lru_cache(maxsize=8)
def mention_mask(tokenizer) -> MentionMask:
    """One vocabulary scan per tokenizer (a Qwen vocabulary has 150k entries; callers ask per request)."""
    return MentionMask(tokenizer)


def banned_for(engine, requests: list[AuctionRequest], enabled: bool) -> list[list[int]] | None:
    if not enabled:
        return None
    mask = mention_mask(engine.tokenizer)
    return [mask.banned(r) for r in requests] if mask.by_ad else None
