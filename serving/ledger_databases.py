"""The ledger's two databases behind one interface: a SQLite file, or a pool of PostgreSQL connections.

Each gives `transaction()` (a context yielding a DB-API connection: commit on a clean exit, rollback on
an error), its `placeholder`, and the two answers `Ledger.run` needs about an error it raised:
`worth_retrying` (a fresh connection may pass) and `unavailable` (a short, client-safe reason when the
database did not answer; None for any other error).
"""
from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 10.0  # serving.ledger_timeout_s: how long an operation waits for its database

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


class SQLiteDatabase:
    """One file; BEGIN IMMEDIATE takes the write lock up front, so a transaction never upgrades midway."""

    backend = "SQLite"
    placeholder = "?"

    def __init__(self, path: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # timeout: SQLite's busy timeout, how long a write waits for another connection's lock
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout_s)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(SCHEMA.format(real="REAL"))
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(auctions)")}
        if "read_token" not in columns:  # a ledger written before records needed a credential
            self._db.execute("ALTER TABLE auctions ADD COLUMN read_token TEXT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:  # released even when BEGIN fails, e.g. on a file still locked after the timeout
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            finally:
                if self._db.in_transaction:  # an error, or a COMMIT that failed: leave the connection clean
                    self._db.execute("ROLLBACK")

    def worth_retrying(self, error: Exception) -> bool:
        return False  # no connection to break, and a locked file was already waited for (the busy timeout)

    def unavailable(self, error: Exception) -> str | None:
        """SQLite's own text for a file another connection still held after the busy timeout; else None."""
        busy = isinstance(error, sqlite3.OperationalError) and (
            error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))  # primary code
        return str(error) if busy else None

    def close(self) -> None:
        self._db.close()


class PostgresDatabase:
    """A pool of connections to a shared server; the schema is created once under an advisory lock."""

    backend = "PostgreSQL"
    placeholder = "%s"

    def __init__(self, url: str, max_connections: int = 8, timeout_s: float = DEFAULT_TIMEOUT_S):
        import psycopg  # imported here: a SQLite ledger needs no PostgreSQL client
        from psycopg_pool import ConnectionPool, PoolTimeout

        self.url = url
        self._errors = psycopg.OperationalError  # the server or the connection failed, PoolTimeout included
        self._pool_timeout = PoolTimeout
        # timeout: the wait for a connection; connect_timeout bounds one attempt on an unreachable host
        # (libpq counts whole seconds, at least 2). No `check=` callback: psycopg_pool sleeps 1, 2, 4 s
        # between connections that fail it, so after a restart a pool of dead connections outlasts the
        # timeout; `transaction` drops them all at the first failure instead.
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=True, timeout=timeout_s,
                                    kwargs={"connect_timeout": max(2, math.ceil(timeout_s))})
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(4242)")  # replicas starting together create it once
            for statement in filter(str.strip, SCHEMA.format(real="DOUBLE PRECISION").split(";")):
                db.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A pooled connection: commits on a clean exit, rolls back on an exception."""
        try:
            with self._pool.connection() as db:
                yield db
        except self._errors:
            # A restart closes every pooled connection at once: test them all now (one round trip
            # each), so that a retry and the requests after it draw live ones, not one dead one each.
            self._pool.check()
            raise

    def worth_retrying(self, error: Exception) -> bool:
        """A failed connection or statement may pass on a fresh connection; a pool timeout has already
        waited for one, so another try would only wait as long again."""
        return isinstance(error, self._errors) and not isinstance(error, self._pool_timeout)

    def unavailable(self, error: Exception) -> str | None:
        """The error's type (e.g. AdminShutdown, PoolTimeout) when the server or the connection failed;
        its message, which names hosts, goes to the log only."""
        return type(error).__name__ if isinstance(error, self._errors) else None

    def close(self) -> None:
        self._pool.close()
