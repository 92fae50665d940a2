"""The click ledger: auctions, the ads they showed, and the charges, in SQLite or PostgreSQL.

`open_ledger(location)`: a file path is a SQLite file (one server; WAL journal with synchronous=FULL,
so an acknowledged charge survives a SIGKILL); `postgresql://...` is a shared database for any number
of ingress replicas on any number of nodes. The same SQL runs on both, and the guarantees come from
the database's constraints, not from a process lock: an auction is committed before its answer
leaves, and a click is charged at most once per (auction, ad) under concurrent retries through any
replica; a retry gets the original charge back.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from serving.errors import ClickRefused, IdempotencyKeyReused, UnknownAuction

SCHEMA = """
CREATE TABLE IF NOT EXISTS auctions (
    auction_id TEXT PRIMARY KEY, created {real} NOT NULL, model_id TEXT NOT NULL,
    request TEXT NOT NULL, answer TEXT NOT NULL, read_token TEXT);
CREATE TABLE IF NOT EXISTS shown_ads (
    auction_id TEXT NOT NULL REFERENCES auctions(auction_id), ad_id TEXT NOT NULL, title TEXT NOT NULL,
    bid {real} NOT NULL, cpc {real} NOT NULL, position INTEGER NOT NULL, click_token TEXT NOT NULL,
    PRIMARY KEY (auction_id, ad_id));
CREATE TABLE IF NOT EXISTS charges (
    auction_id TEXT NOT NULL, ad_id TEXT NOT NULL, amount {real} NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
    created {real} NOT NULL, PRIMARY KEY (auction_id, ad_id),
    FOREIGN KEY (auction_id, ad_id) REFERENCES shown_ads(auction_id, ad_id));
"""


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


class SQLiteDatabase:
    """One file; BEGIN IMMEDIATE takes the write lock up front, so a transaction never upgrades midway."""

    placeholder = "?"

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(SCHEMA.format(real="REAL"))
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(auctions)")}
        if "read_token" not in columns:  # a ledger written before records needed a credential
            self._db.execute("ALTER TABLE auctions ADD COLUMN read_token TEXT")

    def transaction(self):
        return _SQLiteTransaction(self)

    def close(self) -> None:
        self._db.close()


class _SQLiteTransaction:
    def __init__(self, database: SQLiteDatabase):
        self.database = database

    def __enter__(self):
        self.database._lock.acquire()
        self.database._db.execute("BEGIN IMMEDIATE")
        return self.database._db

    def __exit__(self, kind, error, trace):
        try:
            self.database._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self.database._lock.release()


class PostgresDatabase:
    """A pool of connections to a shared server; the schema is created once under an advisory lock."""

    placeholder = "%s"

    def __init__(self, url: str, max_connections: int = 8):
        from psycopg_pool import ConnectionPool

        self.url = url
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=True, timeout=30)
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(4242)")  # replicas starting together create it once
            for statement in filter(str.strip, SCHEMA.format(real="DOUBLE PRECISION").split(";")):
                db.execute(statement)

    def transaction(self):
        return _PostgresTransaction(self._pool)

    def close(self) -> None:
        self._pool.close()


class _PostgresTransaction:
    def __init__(self, pool):
        self._context = pool.connection()  # commits on a clean exit, rolls back on an exception

    def __enter__(self):
        return self._context.__enter__()

    def __exit__(self, kind, error, trace):
        return self._context.__exit__(kind, error, trace)


def open_ledger(location: str) -> Ledger:
    """`postgresql://user@host:port/db` for a shared PostgreSQL ledger; anything else is a SQLite file path."""
    if location.startswith(("postgresql://", "postgres://")):
        return Ledger(PostgresDatabase(location))
    return Ledger(SQLiteDatabase(location))


class Ledger:
    def __init__(self, database: SQLiteDatabase | PostgresDatabase):
        self.database = database

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.database.placeholder)

    def record_auction(self, auction_id: str, model_id: str, request: dict, answer: str, ads: list[ShownAd],
                       read_token: str) -> None:
        with self.database.transaction() as db:
            db.execute(self._sql("INSERT INTO auctions VALUES (?, ?, ?, ?, ?, ?)"),
                       (auction_id, time.time(), model_id, json.dumps(request), answer, read_token))
            for a in ads:
                db.execute(self._sql("INSERT INTO shown_ads VALUES (?, ?, ?, ?, ?, ?, ?)"),
                           (auction_id, a.ad_id, a.title, a.bid, a.cpc, a.position, a.click_token))

    def charge_click(self, auction_id: str, ad_id: str, click_token: str, idempotency_key: str) -> Charge:
        """Charge the ad's cost per click once; the same click again returns the first charge.

        The insert does nothing when either key exists (waiting for a concurrent insert to commit);
        what exists then tells a retry of this click from a key reused for another."""
        with self.database.transaction() as db:
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

    def auction(self, auction_id: str) -> AuctionRecord | None:
        """The auction as recorded, its shown ads and its charges; None if unknown."""
        with self.database.transaction() as db:
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

    def close(self) -> None:
        self.database.close()
