"""The ledger's guarantees on both backends: a real SQLite file and a real PostgreSQL server."""
import sqlite3
import threading

import pytest
from postgres_server import postgres_server

from serving.errors import ClickRefused, IdempotencyKeyReused, UnknownAuction
from serving.ledger import ShownAd, open_ledger

REQUEST = {"request_id": "a-1", "user": {"user_id": "u-1", "basic_info": "teacher", "interests": []}}
SHOWN = [ShownAd("Ad-3", "green tea leaves", 40.0, 40.0, 0, "tok-3"),
         ShownAd("Ad-4", "glass tea kettle", 12.5, 12.5, 1, "tok-4")]


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    url = request.getfixturevalue("postgres_url")
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:  # each test starts from an empty ledger
        db.execute("DROP TABLE IF EXISTS charges, shown_ads, auctions")
    return url


def test_concurrent_retries_of_one_click_through_two_replicas_charge_it_once(location):
    replicas = [open_ledger(location), open_ledger(location)]
    replicas[0].record_auction("a-1", "m", REQUEST, "answer", SHOWN, "read-1")
    charges, errors = [], []

    def click(k):
        try:
            charges.append(replicas[k % 2].charge_click("a-1", "Ad-3", "tok-3", f"key-{k}"))
        except Exception as err:  # noqa: BLE001 - any error fails the test below
            errors.append(err)

    threads = [threading.Thread(target=click, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    first = [c for c in charges if not c.duplicate]
    assert len(first) == 1 and len(charges) == 20
    assert {c.idempotency_key for c in charges} == {first[0].idempotency_key}
    record = replicas[1].auction("a-1")
    assert [(c["ad_id"], c["amount"]) for c in record.charges] == [("Ad-3", 40.0)]
    for ledger in replicas:
        ledger.close()


def test_refused_clicks_raise_their_own_error_type_whatever_their_text(location):
    ledger = open_ledger(location)
    ledger.record_auction("a-1", "m", REQUEST, "answer", SHOWN, "read-1")
    with pytest.raises(UnknownAuction):
        ledger.charge_click("nope", "Ad-3", "tok-3", "k-1")
    with pytest.raises(ClickRefused):
        ledger.charge_click("a-1", "idempotency", "tok-3", "k-1")  # an ID that reads like another error
    with pytest.raises(ClickRefused):
        ledger.charge_click("a-1", "Ad-3", "forged", "k-1")
    ledger.charge_click("a-1", "Ad-3", "tok-3", "k-1")
    with pytest.raises(IdempotencyKeyReused):
        ledger.charge_click("a-1", "Ad-4", "tok-4", "k-1")
    assert [c["ad_id"] for c in ledger.auction("a-1").charges] == ["Ad-3"]
    ledger.close()


def test_an_auction_is_readable_from_another_replica_as_soon_as_it_is_recorded(location):
    writer, reader = open_ledger(location), open_ledger(location)
    writer.record_auction("a-2", "m", REQUEST, "the answer", SHOWN, "read-2")
    record = reader.auction("a-2")
    assert record.answer == "the answer" and record.read_token == "read-2"
    assert [a["ad_id"] for a in record.ads] == ["Ad-3", "Ad-4"] and record.charges == []
    assert reader.auction("a-3") is None
    writer.close()
    reader.close()


def test_a_sqlite_ledger_written_before_read_tokens_keeps_its_charges(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE auctions (auction_id TEXT PRIMARY KEY, created REAL NOT NULL, model_id TEXT NOT NULL,
                                   request TEXT NOT NULL, answer TEXT NOT NULL);
            CREATE TABLE shown_ads (auction_id TEXT NOT NULL, ad_id TEXT NOT NULL, title TEXT NOT NULL,
                bid REAL NOT NULL, cpc REAL NOT NULL, position INTEGER NOT NULL, click_token TEXT NOT NULL,
                PRIMARY KEY (auction_id, ad_id));
            CREATE TABLE charges (auction_id TEXT NOT NULL, ad_id TEXT NOT NULL, amount REAL NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE, created REAL NOT NULL, PRIMARY KEY (auction_id, ad_id));
            INSERT INTO auctions VALUES ('old', 1.0, 'm', '{}', 'text');
            INSERT INTO shown_ads VALUES ('old', 'Ad-3', 'green tea leaves', 40, 40, 0, 'tok');
            INSERT INTO charges VALUES ('old', 'Ad-3', 40, 'k', 2.0);""")
    ledger = open_ledger(str(path))
    assert ledger.auction("old").charges[0]["amount"] == 40 and ledger.auction("old").read_token is None
    ledger.record_auction("new", "m", REQUEST, "answer", SHOWN, "read-new")
    assert ledger.charge_click("old", "Ad-3", "tok", "k2").duplicate
    ledger.close()


def test_a_write_run_again_after_its_commit_changes_nothing_and_an_auction_id_given_twice_is_refused(location):
    """What makes running an operation once more on a fresh connection safe: its first run may have
    committed before the connection broke."""
    ledger = open_ledger(location)
    for _ in range(2):
        ledger.record_auction("a-1", "m", REQUEST, "answer", SHOWN, "read-1")
    first, again = (ledger.charge_click("a-1", "Ad-3", "tok-3", "k-1") for _ in range(2))
    assert not first.duplicate and again.duplicate and (again.amount, again.idempotency_key) == (40.0, "k-1")
    with pytest.raises(ValueError, match="already recorded for another auction"):
        ledger.record_auction("a-1", "m", REQUEST, "another answer", SHOWN[:1], "read-other")
    record = ledger.auction("a-1")
    assert record.answer == "answer" and [a["ad_id"] for a in record.ads] == ["Ad-3", "Ad-4"]
    assert [(c["ad_id"], c["amount"]) for c in record.charges] == [("Ad-3", 40.0)]
    ledger.close()
