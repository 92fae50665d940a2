"""The HTTP API's bodies. Every limit is checked here, so bad input fails with a 4xx naming the field."""
from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auction.types import InvalidAdError, check_no_template_markers, validate_ad_id, validate_title

MAX_PROFILE_CHARS = 1000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _checked(check, value, *args):
    try:
        return check(value, *args)
    except InvalidAdError as err:  # pydantic reports a ValueError under the field's location
        raise ValueError(str(err)) from None


class Profile(Body):
    basic_info: str = Field("", max_length=MAX_PROFILE_CHARS)
    interests: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("basic_info")
    @classmethod
    def _info(cls, value: str) -> str:
        return _checked(check_no_template_markers, value, "basic_info")

    @field_validator("interests")
    @classmethod
    def _interests(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) > 100:
                raise ValueError(f"each interest at most 100 characters, got {len(item)}")
            _checked(check_no_template_markers, item, "interests")
        return value


class User(Body):
    id: str = Field(min_length=1, max_length=128)
    profile: Profile = Profile()


class CandidateAd(Body):
    ad_id: str
    title: str
    bid: float

    @field_validator("ad_id")
    @classmethod
    def _ad_id(cls, value: str) -> str:
        return _checked(validate_ad_id, value)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _checked(validate_title, value)

    @field_validator("bid")
    @classmethod
    def _bid(cls, value: float) -> float:
        if not math.isfinite(value) or value <= 0:  # the upper limit is auction.max_bid, checked by the ingress
            raise ValueError(f"bid: must be a finite number > 0, got {value}")
        return value


class Sampling(Body):
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.8, gt=0, le=1)
    top_k: int = Field(20, ge=-1, le=1000)
    max_tokens: int = Field(128, ge=1, le=1024)
    seed: int | None = Field(None, ge=0, description="fix it to get the same answer again")


class AuctionBody(Body):
    user: User
    query: str = Field(min_length=1)
    ads: list[CandidateAd] = Field(min_length=1)
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


class ShownAdOut(BaseModel):
    ad_id: str
    title: str
    bid: float
    cpc: float = Field(description="cost per click: the bid, under first price")
    span: tuple[int, int] = Field(description="[start, end) of the `@Title@[ID]` mention in `answer`")
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
