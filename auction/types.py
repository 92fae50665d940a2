"""The auction's value types: ads, bids, users, requests, and the ads found in an answer.

Titles and IDs are validated here, at the request boundary, so that nothing downstream (prompt,
parser, ledger) has to cope with a title that could break the `@Title@[ID]` mention format.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

# Delimiters of a mention `@Title@[ID]`. A title or ID holding one of them could forge or break a
# mention, so they are rejected (not escaped: the model must copy titles verbatim, and an escape
# sequence is one more thing it can copy wrong).
MENTION_DELIMITERS = frozenset("@[]")
MAX_TITLE_CHARS = 200
MAX_AD_ID_CHARS = 64
AD_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*")


class InvalidAdError(ValueError):
    """An ad's ID, title or bid cannot be accepted into an auction."""


def validate_title(title: str) -> str:
    """Return `title` if it is a legal ad title; raise InvalidAdError naming the problem otherwise."""
    if not isinstance(title, str):
        raise InvalidAdError(f"title: must be a string, got {type(title).__name__}")
    if not title:
        raise InvalidAdError("title: must not be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidAdError(f"title: at most {MAX_TITLE_CHARS} characters, got {len(title)}")
    if title != title.strip():
        raise InvalidAdError("title: must not start or end with whitespace")
    bad = sorted(MENTION_DELIMITERS.intersection(title))
    if bad:
        raise InvalidAdError(f"title: must not contain the mention delimiters {''.join(bad)!r}: {title!r}")
    if not title.isprintable():
        raise InvalidAdError(f"title: must hold printable characters only (no newlines or controls): {title!r}")
    check_no_template_markers(title, "title")
    return title


# Chat-template control sequences of the model families we serve (ChatML, Llama, Mistral, Gemma...):
# text that carries one could close the user turn and open a system turn of its own.
TEMPLATE_MARKER = re.compile(r"<\|[^|>]{0,40}\|>|</?s>|<\|?(?:im_start|im_end|endoftext|eot_id)|"
                             r"\[/?INST\]|<<\/?SYS>>|<(?:start|end)_of_turn>", re.IGNORECASE)


def check_no_template_markers(text: str, field: str) -> str:
    """Reject text holding a chat-template control sequence; `field` names it in the error."""
    marker = TEMPLATE_MARKER.search(text)
    if marker:
        raise InvalidAdError(f"{field}: must not contain the chat-template marker {marker.group(0)!r}")
    return text


def validate_ad_id(ad_id: str) -> str:
    """Return `ad_id` if it is a legal ad ID (letters, digits, `_.:-`, at most 64 characters)."""
    if not isinstance(ad_id, str):
        raise InvalidAdError(f"ad_id: must be a string, got {type(ad_id).__name__}")
    if len(ad_id) > MAX_AD_ID_CHARS:
        raise InvalidAdError(f"ad_id: at most {MAX_AD_ID_CHARS} characters, got {len(ad_id)}")
    if not AD_ID_PATTERN.fullmatch(ad_id):
        raise InvalidAdError(f"ad_id: letters, digits and _.:- only, starting with a letter or digit: {ad_id!r}")
    return ad_id


def validate_bid(bid: float) -> float:
    """Return `bid` as a float if it is finite and non-negative."""
    if isinstance(bid, bool) or not isinstance(bid, (int, float)):
        raise InvalidAdError(f"bid: must be a number, got {type(bid).__name__}")
    if not math.isfinite(bid) or bid < 0:
        raise InvalidAdError(f"bid: must be finite and >= 0, got {bid}")
    return float(bid)


@dataclass(frozen=True)
class Ad:
    """One advertiser's fixed ad: an ID and the title the answer must quote verbatim."""

    ad_id: str
    title: str
    category: str = ""

    def __post_init__(self) -> None:
        validate_ad_id(self.ad_id)
        validate_title(self.title)


@dataclass(frozen=True)
class Candidate:
    """An ad entered in one auction with its bid per click."""

    ad: Ad
    bid: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "bid", validate_bid(self.bid))

    @property
    def ad_id(self) -> str:
        return self.ad.ad_id


@dataclass(frozen=True)
class UserProfile:
    """The user the answer is written for: basic facts and interests, as free text."""

    user_id: str
    basic_info: str = ""
    interests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_no_template_markers(self.basic_info, "user.basic_info")
        for interest in self.interests:
            check_no_template_markers(interest, "user.interests")


@dataclass(frozen=True)
class AuctionRequest:
    """One user question and the ads competing to appear in its answer."""

    request_id: str
    user: UserProfile
    query: str
    candidates: tuple[Candidate, ...]
    by_id: dict[str, Candidate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_no_template_markers(self.query, "query")
        by_id: dict[str, Candidate] = {}
        for candidate in self.candidates:
            if candidate.ad_id in by_id:
                raise InvalidAdError(f"candidates: duplicate ad_id {candidate.ad_id!r}")
            by_id[candidate.ad_id] = candidate
        object.__setattr__(self, "by_id", by_id)

    def bids(self) -> dict[str, float]:
        return {c.ad_id: c.bid for c in self.candidates}

    def with_bid(self, ad_id: str, bid: float) -> AuctionRequest:
        """The same request with one candidate's bid replaced (bid sweeps: monotonicity, continuity)."""
        if ad_id not in self.by_id:
            raise KeyError(f"ad_id {ad_id!r} is not a candidate of request {self.request_id!r}")
        candidates = tuple(Candidate(c.ad, bid) if c.ad_id == ad_id else c for c in self.candidates)
        return AuctionRequest(self.request_id, self.user, self.query, candidates)

    def restricted_to(self, ad_ids) -> AuctionRequest:
        """The same request offering only `ad_ids` (a pre-generation mechanism's winners)."""
        missing = [a for a in ad_ids if a not in self.by_id]
        if missing:
            raise KeyError(f"ad_ids {missing} are not candidates of request {self.request_id!r}")
        keep = set(ad_ids)
        return AuctionRequest(self.request_id, self.user, self.query,
                              tuple(c for c in self.candidates if c.ad_id in keep))


@dataclass(frozen=True)
class InsertedAd:
    """An ad correctly mentioned in an answer; `start:end` is the whole `@Title@[ID]` span."""

    ad_id: str
    title: str
    start: int
    end: int
    position: int  # 0 for the first ad in the answer, 1 for the second, ...
