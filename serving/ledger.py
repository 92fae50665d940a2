"""The click ledger: auctions, the ads they showed, and the charges, in one SQLite file.

WAL journal with synchronous=FULL: a charge acknowledged to the caller has reached the disk, so it
survives a SIGKILL of the server. A click is charged at most once per (auction, ad); a retry with
the same idempotency key gets the original charge back.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS auctions (
    auction_id TEXT PRIMARY KEY, created REAL NOT NULL, model_id TEXT NOT NULL,
    request TEXT NOT NULL, answer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shown_ads (
    auction_id TEXT NOT NULL REFERENCES auctions(auction_id), ad_id TEXT NOT NULL, title TEXT NOT NULL,
    bid REAL NOT NULL, cpc REAL NOT NULL, position INTEGER NOT NULL, click_token TEXT NOT NULL,
    PRIMARY KEY (auction_id, ad_id));
CREATE TABLE IF NOT EXISTS charges (
    auction_id TEXT NOT NULL, ad_id TEXT NOT NULL, amount REAL NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
    created REAL NOT NULL, PRIMARY KEY (auction_id, ad_id),
    FOREIGN KEY (auction_id, ad_id) REFERENCES shown_ads(auction_id, ad_id));
"""


class ClickRefused(ValueError):
    """A click that cannot be charged: unknown auction, ad not shown, or a wrong token."""


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


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def record_auction(self, auction_id: str, model_id: str, request: dict, answer: str, ads: list[ShownAd]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO auctions VALUES (?, ?, ?, ?, ?)",
                             (auction_id, time.time(), model_id, json.dumps(request), answer))
            self._db.executemany("INSERT INTO shown_ads VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(auction_id, a.ad_id, a.title, a.bid, a.cpc, a.position, a.click_token)
                                  for a in ads])

    def charge_click(self, auction_id: str, ad_id: str, click_token: str, idempotency_key: str) -> Charge:
        """Charge the ad's cost per click once; the same click again returns the first charge."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            shown = self._db.execute("SELECT cpc, click_token FROM shown_ads WHERE auction_id = ? AND ad_id = ?",
                                     (auction_id, ad_id)).fetchone()
            if shown is None:
                known = self._db.execute("SELECT 1 FROM auctions WHERE auction_id = ?", (auction_id,)).fetchone()
                raise ClickRefused(f"ad_id: {ad_id!r} was not shown in auction {auction_id!r}" if known
                                   else f"auction_id: no auction {auction_id!r}")
            if click_token != shown[1]:
                raise ClickRefused("click_token: does not match the token issued for this ad")
            existing = self._db.execute(
                "SELECT amount, idempotency_key FROM charges WHERE auction_id = ? AND ad_id = ?",
                (auction_id, ad_id)).fetchone()
            if existing is not None:
                return Charge(auction_id, ad_id, existing[0], existing[1], duplicate=True)
            if self._db.execute("SELECT 1 FROM charges WHERE idempotency_key = ?", (idempotency_key,)).fetchone():
                raise ClickRefused("idempotency_key: already used for another click")
            self._db.execute("INSERT INTO charges VALUES (?, ?, ?, ?, ?)",
                             (auction_id, ad_id, shown[0], idempotency_key, time.time()))
            return Charge(auction_id, ad_id, shown[0], idempotency_key, duplicate=False)

    def auction(self, auction_id: str) -> dict | None:
        """The auction as recorded, its shown ads and its charges; None if unknown."""
        with self._lock:
            row = self._db.execute("SELECT auction_id, created, model_id, request, answer FROM auctions "
                                   "WHERE auction_id = ?", (auction_id,)).fetchone()
            if row is None:
                return None
            ads = self._db.execute("SELECT ad_id, title, bid, cpc, position FROM shown_ads WHERE auction_id = ? "
                                   "ORDER BY position", (auction_id,)).fetchall()
            charges = self._db.execute("SELECT ad_id, amount, idempotency_key, created FROM charges "
                                       "WHERE auction_id = ? ORDER BY created", (auction_id,)).fetchall()
        return {
            "auction_id": row[0], "created": row[1], "model_id": row[2], "request": json.loads(row[3]),
            "answer": row[4],
            "ads": [dict(zip(("ad_id", "title", "bid", "cpc", "position"), a)) for a in ads],
            "charges": [dict(zip(("ad_id", "amount", "idempotency_key", "created"), c)) for c in charges],
            "total_charged": sum(c[1] for c in charges),
        }

    def close(self) -> None:
        self._db.close()
