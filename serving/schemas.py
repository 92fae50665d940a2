"""The HTTP API's bodies. Every limit validation enforces is a constraint here, so the OpenAPI schema
states it and a generated client sends what the endpoint accepts. Numbers are strict: `true` is not 1.

The limits set in config (`serving.max_candidates`, `serving.max_query_chars`, `auction.max_bid`) enter
through `auction_body(limits)`, which builds the request body the running app validates and documents.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, field_validator

from auction.types import (
    MAX_AD_ID_CHARS,
    MAX_TITLE_CHARS,
    InvalidAdError,
    check_no_template_markers,
    validate_ad_id,
    validate_title,
)
from serving.config import DEFAULT_LIMITS, RequestLimits

MAX_PROFILE_CHARS = 1000
MAX_SEED = 2**32 - 1
AD_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
# No mention delimiters or control characters, no whitespace at either end (auction.types.validate_title).
TITLE = r"^[^\s@\[\]](?:[^@\[\]\x00-\x1f\x7f]*[^\s@\[\]])?$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _checked(check, value, *args):
    try:
        return check(value, *args)
    except InvalidAdError as err:  # pydantic reports a ValueError under the field's location
        raise ValueError(str(err)) from None


class Profile(Body):
    basic_info: str = Field("", max_length=MAX_PROFILE_CHARS)
    interests: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=20)

    @field_validator("basic_info")
    @classmethod
    def _info(cls, value: str) -> str:
        return _checked(check_no_template_markers, value, "basic_info")

    @field_validator("interests")
    @classmethod
    def _interests(cls, value: list[str]) -> list[str]:
        for item in value:
            _checked(check_no_template_markers, item, "interests")
        return value


class User(Body):
    id: str = Field(min_length=1, max_length=128)
    profile: Profile = Profile()


class CandidateAd(Body):
    ad_id: str = Field(min_length=1, max_length=MAX_AD_ID_CHARS, pattern=AD_ID)
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS, pattern=TITLE,
                       description="printable; no @, [ ] or chat-template markers")
    bid: float = Field(gt=0, le=DEFAULT_LIMITS.max_bid, allow_inf_nan=False, description="per click, at most auction.max_bid")

    @field_validator("ad_id")
    @classmethod
    def _ad_id(cls, value: str) -> str:
        return _checked(validate_ad_id, value)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _checked(validate_title, value)


class Sampling(Body):
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.8, gt=0, le=1)
    top_k: int = Field(20, ge=-1, le=1000)
    max_tokens: int = Field(128, ge=1, le=1024)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="fix it to get the same answer again")


class AuctionBody(Body):
    user: User
    query: str = Field(min_length=1, max_length=DEFAULT_LIMITS.max_query_chars)
    ads: list[CandidateAd] = Field(min_length=1, max_length=DEFAULT_LIMITS.max_candidates)
    sampling: Sampling | None = None

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return _checked(check_no_template_markers, value, "query")

    @field_validator("ads")
    @classmethod
    def _distinct(cls, ads: list[CandidateAd]) -> list[CandidateAd]:
        seen = set()
        for ad in ads:
            if ad.ad_id in seen:
                raise ValueError(f"duplicate ad_id {ad.ad_id!r}")
            seen.add(ad.ad_id)
        return ads


def auction_body(limits: RequestLimits) -> type[AuctionBody]:
    """The request body under the configured limits (same fields and checks, limits in the schema)."""
    ad = create_model("CandidateAd", __base__=CandidateAd, bid=(
        float, Field(gt=0, le=limits.max_bid, allow_inf_nan=False, description="per click, at most auction.max_bid")))
    return create_model("AuctionBody", __base__=AuctionBody,
                        query=(str, Field(min_length=1, max_length=limits.max_query_chars)),
                        ads=(list[ad], Field(min_length=1, max_length=limits.max_candidates)))


class Problems(BaseModel):
    """Every refusal and failure: one line per problem, `field.path: reason`."""

    detail: list[str]


class ShownAdOut(BaseModel):
    ad_id: str
    title: str
    bid: float
    cpc: float = Field(description="cost per click: the bid, under first price")
    span: tuple[int, int] = Field(description="[start, end) of the ad's mention in `answer`")
    position: int
    click_token: str


class AuctionAnswer(BaseModel):
    auction_id: str
    answer: str
    ads: list[ShownAdOut]
    format_errors: int = Field(description="malformed mentions in the answer (not shown as ads, never charged)")
    generations: int = 1
    model_id: str
    latency_ms: float
    _server_timing: str = PrivateAttr("")  # the `Server-Timing` header: where the latency went
    read_token: str = Field(description="send as `Authorization: Bearer TOKEN` to read this auction's record")
    advertiser_tokens: dict[str, str] = Field(description="one per candidate ad, for its advertiser: opens "
                                              "`/v1/auctions/{auction_id}/ads/{ad_id}`, that ad's view alone")


class ClickBody(Body):
    auction_id: str = Field(min_length=1, max_length=64)
    ad_id: str = Field(min_length=1, max_length=64)
    click_token: str = Field(min_length=1, max_length=64)
    idempotency_key: str = Field(min_length=1, max_length=128)


class ChargeOut(BaseModel):
    auction_id: str
    ad_id: str
    amount: float
    idempotency_key: str
    duplicate: bool


class AuctionRecordOut(BaseModel):
    """An auction as the ledger holds it. The user's profile is shown to the operator only."""

    auction_id: str
    created: float
    model_id: str
    request: dict
    answer: str
    ads: list[dict]
    charges: list[dict]
    total_charged: float


class AdvertiserCharge(BaseModel):
    amount: float
    created: float


class AdvertiserView(BaseModel):
    """One candidate ad's view of an auction: nothing about the other ads or the user."""

    auction_id: str
    created: float
    ad_id: str
    title: str
    bid: float
    shown: bool
    position: int | None = Field(description="its place among the answer's ads; null when not shown")
    cpc: float | None = Field(description="what a click costs; null when not shown")
    charges: list[AdvertiserCharge]
    total_charged: float


class Health(BaseModel):
    status: str = Field(description="`ok`: idle, and a one-token probe went through the engine; `busy`: serving "
                        "requests, and a reply came back within `serving.health_timeout_s` (no probe is queued "
                        "behind them)")
    model_id: str
    engine_ms: float | None = Field(description="time of the one-token probe (null when busy)")
    in_flight: int = Field(0, description="calls to the engine in flight from this ingress replica")
    last_reply_ms: float | None = Field(None, description="when busy: milliseconds since the engine last replied")
