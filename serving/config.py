"""Serving section: the Ray Serve auction endpoint and its click ledger."""
from __future__ import annotations

from pydantic import Field

from auction.strict_config import StrictModel


class ServingConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    ledger: str = Field("runs/ledger.sqlite", description="SQLite file of auctions and charges")
    max_candidates: int = Field(20, ge=1, description="most candidate ads accepted per request")
    max_query_chars: int = Field(2000, ge=1)
