"""The click ledger: auctions, the ads they showed, and the charges, in SQLite or PostgreSQL.

`open_ledger(location)`: a file path is a SQLite file (one server; WAL journal with synchronous=FULL,
so an acknowledged charge survives a SIGKILL); `postgresql://...` is a shared database for any number
of ingress replicas on any number of nodes. The same SQL runs on both, and the guarantees come from
the database's constraints, not from a process lock: an auction is committed before its answer
leaves, and a click is charged at most once per (auction, ad) under concurrent retries through any
replica; a retry gets the original charge back.

Outages: an operation that fails on a broken PostgreSQL connection (the server restarted or closed it)
runs once more on a fresh one, which is safe because every write is idempotent by its keys. A database
that still does not answer, or a SQLite file still locked after the busy timeout, raises
`LedgerUnavailable` (a 503 with Retry-After), never a bare database error.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from serving.errors import ClickRefused, IdempotencyKeyReused, LedgerUnavailable, UnknownAuction
from serving.ledger_databases import DEFAULT_TIMEOUT_S, PostgresDatabase, SQLiteDatabase

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ShownAd:
    ad_id: str
    title: str
    bid: float
    cpc: float
    position: int
    click_token: str


@dataclass(frozen=True)
class Charge:
    auction_id: str
    ad_id: str
    amount: float
    idempotency_key: str
    duplicate: bool  # True when this click had already been charged


@dataclass(frozen=True)
class AuctionRecord:
    auction_id: str
    created: float
    model_id: str
    request: dict
    answer: str
    read_token: str | None
    ads: list[dict]
    charges: list[dict]


def open_ledger(location: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Ledger:
    """`postgresql://user@host:port/db` for a shared PostgreSQL ledger; anything else is a SQLite file path.

    `timeout_s`: how long an operation waits for the database (a connection, or SQLite's write lock)
    before it raises LedgerUnavailable."""
    if location.startswith(("postgresql://", "postgres://")):
        return Ledger(PostgresDatabase(location, timeout_s=timeout_s))
    return Ledger(SQLiteDatabase(location, timeout_s=timeout_s))


class Ledger:
    def __init__(self, database: SQLiteDatabase | PostgresDatabase):
        self.database = database

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.database.placeholder)

    def run(self, operation: Callable[[Any], T], *, retry: bool = True) -> T:
        """`operation(db)` in one transaction; on a failure a fresh connection may fix, once more.

        The second run is safe because every write is idempotent by its keys: an auction found again
        with its own read token, or a click's first charge, changes nothing (see the two writes below).
        A database that still fails to answer raises LedgerUnavailable."""
        try:
            with self.database.transaction() as db:
                return operation(db)
        except Exception as error:
            if retry and self.database.worth_retrying(error):
                log.warning("%s ledger: %r; trying once more on a fresh connection", self.database.backend, error)
                return self.run(operation, retry=False)
            reason = self.database.unavailable(error)
            if reason is None:
                raise
            log.warning("%s ledger unavailable: %r", self.database.backend, error)
            raise LedgerUnavailable(self.database.backend, reason) from error

    def record_auction(self, auction_id: str, model_id: str, request: dict, answer: str, ads: list[ShownAd],
                       read_token: str) -> None:
        """Commit the auction with its shown ads, at most once.

        Run again after a commit whose acknowledgement was lost, it finds the row with this call's own
        read token (a fresh secret per auction) and changes nothing; a row with another token is an
        auction ID given twice, refused."""
        row = (auction_id, time.time(), model_id, json.dumps(request), answer, read_token)

        def write(db) -> None:
            if db.execute(self._sql("INSERT INTO auctions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
                                    "RETURNING 1"), row).fetchone() is None:
                recorded = db.execute(self._sql("SELECT read_token FROM auctions WHERE auction_id = ?"),
                                      (auction_id,)).fetchone()
                if recorded[0] != read_token:
                    raise ValueError(f"auction_id: {auction_id!r} is already recorded for another auction")
                return  # this auction's earlier run committed, its shown ads with it
            for a in ads:
                db.execute(self._sql("INSERT INTO shown_ads VALUES (?, ?, ?, ?, ?, ?, ?)"),
                           (auction_id, a.ad_id, a.title, a.bid, a.cpc, a.position, a.click_token))

        self.run(write)

    def charge_click(self, auction_id: str, ad_id: str, click_token: str, idempotency_key: str) -> Charge:
        """Charge the ad's cost per click once; the same click again returns the first charge.

        The insert does nothing when either key exists (waiting for a concurrent insert to commit);
        what exists then tells a retry of this click from a key reused for another."""

        def charge(db) -> Charge:
            shown = db.execute(self._sql("SELECT cpc, click_token FROM shown_ads WHERE auction_id = ? AND ad_id = ?"),
                               (auction_id, ad_id)).fetchone()
            if shown is None:
                known = db.execute(self._sql("SELECT 1 FROM auctions WHERE auction_id = ?"), (auction_id,)).fetchone()
                if not known:
                    raise UnknownAuction(f"auction_id: no auction {auction_id!r}")
                raise ClickRefused(f"ad_id: {ad_id!r} was not shown in auction {auction_id!r}")
            if click_token != shown[1]:
                raise ClickRefused("click_token: does not match the token issued for this ad")
            inserted = db.execute(self._sql("INSERT INTO charges VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
                                            "RETURNING amount"),
                                  (auction_id, ad_id, shown[0], idempotency_key, time.time())).fetchone()
            if inserted is not None:
                return Charge(auction_id, ad_id, shown[0], idempotency_key, duplicate=False)
            existing = db.execute(self._sql("SELECT amount, idempotency_key FROM charges "
                                            "WHERE auction_id = ? AND ad_id = ?"), (auction_id, ad_id)).fetchone()
            if existing is None:
                raise IdempotencyKeyReused("idempotency_key: already used for another click")
            return Charge(auction_id, ad_id, existing[0], existing[1], duplicate=True)

        return self.run(charge)

    def auction(self, auction_id: str) -> AuctionRecord | None:
        """The auction as recorded, its shown ads and its charges; None if unknown."""

        def read(db) -> AuctionRecord | None:
            row = db.execute(self._sql("SELECT auction_id, created, model_id, request, answer, read_token "
                                       "FROM auctions WHERE auction_id = ?"), (auction_id,)).fetchone()
            if row is None:
                return None
            ads = db.execute(self._sql("SELECT ad_id, title, bid, cpc, position FROM shown_ads "
                                       "WHERE auction_id = ? ORDER BY position"), (auction_id,)).fetchall()
            charges = db.execute(self._sql("SELECT ad_id, amount, idempotency_key, created FROM charges "
                                           "WHERE auction_id = ? ORDER BY created"), (auction_id,)).fetchall()
            return AuctionRecord(
                row[0], row[1], row[2], json.loads(row[3]), row[4], row[5],
                [dict(zip(("ad_id", "title", "bid", "cpc", "position"), a)) for a in ads],
                [dict(zip(("ad_id", "amount", "idempotency_key", "created"), c)) for c in charges])

        return self.run(read)

    def close(self) -> None:
        self.database.close()
