"""Serving section: the Ray Serve auction endpoint and its click ledger."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from auction.config import AuctionConfig
from auction.strict_config import StrictModel
from serving.ledger_databases import DEFAULT_TIMEOUT_S


class ServingConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    ledger: str = Field("runs/ledger.sqlite", description="auctions and charges: a SQLite file (one server), or "
                        "postgresql://USER@HOST:PORT/DB shared by every ingress replica")
    ledger_timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, description="how long a ledger operation waits for "
                                    "its database (SQLite's write lock; a PostgreSQL connection) before the "
                                    "request gets 503")
    max_candidates: int = Field(20, ge=1, description="most candidate ads accepted per request")
    max_query_chars: int = Field(2000, ge=1)
    operator_key_env: str = Field("LLM_AUCTION_OPERATOR_KEY", description="environment variable holding the key "
                                  "that reads every auction record in full (unset: read tokens only)")
    health_timeout_s: float = Field(30.0, gt=0, description="/healthz fails when a one-token probe takes longer")


@dataclass(frozen=True)
class RequestLimits:
    """The limits a request body is validated against, and documented with, in the OpenAPI schema."""

    max_candidates: int
    max_query_chars: int
    max_bid: float


@dataclass(frozen=True)
class IngressSettings:
    """What each ingress replica is built with."""

    ledger: str  # a SQLite file (absolute path) or a postgresql:// URL
    limits: RequestLimits
    operator_key: str | None  # opens every auction record, the user's profile included
    health_timeout_s: float
    ledger_timeout_s: float


# The limits of the config's defaults: what the request body module documents before a server applies its own.
DEFAULT_LIMITS = RequestLimits(ServingConfig().max_candidates, ServingConfig().max_query_chars, AuctionConfig().max_bid)
