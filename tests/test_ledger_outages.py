"""The ledger through database outages: a real PostgreSQL server stopped and restarted, a real SQLite file
locked by another connection, and the HTTP answer (503, Retry-After, the problem list) while it lasts."""
import sqlite3
import threading
import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from postgres_server import postgres_instance

from serving.config import DEFAULT_LIMITS
from serving.errors import LedgerUnavailable
from serving.http_api import build_api
from serving.ledger import ShownAd, open_ledger

REQUEST = {"request_id": "a-1", "user": {"user_id": "u-1", "basic_info": "teacher", "interests": []}}
SHOWN = [ShownAd("Ad-3", "green tea leaves", 40.0, 40.0, 0, "tok-3"),
         ShownAd("Ad-4", "glass tea kettle", 12.5, 12.5, 1, "tok-4")]
TIMEOUT_S = 2.0  # the ledgers' timeout here: how long an operation waits for its database


@pytest.fixture(scope="module")
def server():
    with postgres_instance() as instance:
        yield instance


@pytest.fixture
def postgres(server):
    """The server, running, with an empty ledger; started again after a test that left it stopped."""
    with psycopg.connect(server.url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS charges, shown_ads, auctions")
    yield server
    if not server.running():
        server.start()


def rows(url: str) -> dict[str, int]:
    """What each table holds, counted by a connection of its own."""
    with psycopg.connect(url) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("auctions", "shown_ads", "charges")}


def test_a_postgresql_restart_is_invisible_to_the_next_operations_and_loses_or_doubles_nothing(postgres):
    replicas = [open_ledger(postgres.url, TIMEOUT_S), open_ledger(postgres.url, TIMEOUT_S)]
    replicas[0].record_auction("a-1", "m", REQUEST, "answer", SHOWN, "read-1")
    replicas[0].charge_click("a-1", "Ad-3", "tok-3", "k-3")
    readers = [threading.Thread(target=replicas[k % 2].auction, args=("a-1",)) for k in range(12)]
    for t in readers:  # several pooled connections per replica, each closed by the restart below
        t.start()
    for t in readers:
        t.join()
    postgres.stop("fast")
    postgres.start()
    for k, ledger in enumerate(replicas * 3):  # more operations than either pool held connections
        assert ledger.charge_click("a-1", "Ad-3", "tok-3", f"retry-{k}").idempotency_key == "k-3"
    replicas[1].record_auction("a-2", "m", REQUEST, "answer", SHOWN, "read-2")
    assert not replicas[1].charge_click("a-1", "Ad-4", "tok-4", "k-4").duplicate
    record = replicas[0].auction("a-1")
    assert [(c["ad_id"], c["amount"], c["idempotency_key"]) for c in record.charges] == [
        ("Ad-3", 40.0, "k-3"), ("Ad-4", 12.5, "k-4")]
    assert rows(postgres.url) == {"auctions": 2, "shown_ads": 4, "charges": 2}
    for ledger in replicas:
        ledger.close()


def test_an_operation_whose_connection_breaks_under_it_runs_once_more_on_a_fresh_one(postgres):
    ledger = open_ledger(postgres.url, TIMEOUT_S)
    runs: list[int] = []

    def dies_on_first_run(db) -> int:
        runs.append(db.execute("SELECT pg_backend_pid()").fetchone()[0])
        if len(runs) == 1:
            db.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # the server ends this session
        return len(runs)

    assert ledger.run(dies_on_first_run) == 2 and runs[0] != runs[1]

    def always_dies(db) -> None:
        runs.append(0)
        db.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    runs.clear()
    with pytest.raises(LedgerUnavailable) as raised:
        ledger.run(always_dies)
    assert len(runs) == 2  # once more, not again and again
    assert raised.value.backend == "PostgreSQL" and raised.value.reason == "AdminShutdown"
    ledger.close()


def test_a_stopped_postgresql_server_raises_ledger_unavailable_within_the_timeout_and_loses_nothing(postgres):
    ledger = open_ledger(postgres.url, TIMEOUT_S)
    ledger.record_auction("a-1", "m", REQUEST, "answer", SHOWN, "read-1")
    ledger.charge_click("a-1", "Ad-3", "tok-3", "k-3")
    postgres.stop("fast")
    for operation in (lambda: ledger.auction("a-1"), lambda: ledger.charge_click("a-1", "Ad-4", "tok-4", "k-4"),
                      lambda: ledger.record_auction("a-2", "m", REQUEST, "answer", SHOWN, "read-2")):
        start = time.monotonic()
        with pytest.raises(LedgerUnavailable) as raised:
            operation()
        assert time.monotonic() - start < TIMEOUT_S + 3  # one wait for a connection, not one per try
        assert raised.value.backend == "PostgreSQL"
        assert raised.value.problems == [f"ledger: the PostgreSQL database is unavailable ({raised.value.reason}); "
                                         "retry after 2 s"]
    postgres.start()
    assert [c["ad_id"] for c in ledger.auction("a-1").charges] == ["Ad-3"]
    assert rows(postgres.url) == {"auctions": 1, "shown_ads": 2, "charges": 1}
    ledger.close()


@pytest.fixture
def locked_sqlite(tmp_path):
    """A SQLite ledger with one auction and one charge, and a second connection holding the file's write lock."""
    path = str(tmp_path / "ledger.sqlite")
    ledger = open_ledger(path, timeout_s=0.5)
    ledger.record_auction("a-1", "m", REQUEST, "answer", SHOWN, "read-1")
    ledger.charge_click("a-1", "Ad-3", "tok-3", "k-3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield ledger, holder
    holder.close()
    ledger.close()


def test_a_sqlite_file_locked_past_the_busy_timeout_raises_ledger_unavailable_and_keeps_its_data(locked_sqlite):
    ledger, holder = locked_sqlite
    for operation in (lambda: ledger.charge_click("a-1", "Ad-4", "tok-4", "k-4"),
                      lambda: ledger.record_auction("a-2", "m", REQUEST, "answer", SHOWN, "read-2")):
        start = time.monotonic()
        with pytest.raises(LedgerUnavailable) as raised:
            operation()
        assert 0.5 <= time.monotonic() - start < 5  # it waited out the busy timeout, once
        assert raised.value.backend == "SQLite" and raised.value.reason == "database is locked"
    holder.execute("ROLLBACK")
    assert [c["ad_id"] for c in ledger.auction("a-1").charges] == ["Ad-3"]
    assert not ledger.charge_click("a-1", "Ad-4", "tok-4", "k-4").duplicate  # the ledger is usable again
    assert ledger.auction("a-2") is None


class LedgerOnlyIngress:
    """Each route's ledger operation, without the policy (the real ingress is a Ray Serve deployment)."""

    def __init__(self, ledger):
        self.ledger = ledger

    async def auction(self, body):
        self.ledger.record_auction("a-2", "m", REQUEST, "answer", SHOWN, "read-2")

    async def click(self, body):
        return self.ledger.charge_click(body.auction_id, body.ad_id, body.click_token, body.idempotency_key)

    async def record(self, auction_id, credential):
        return self.ledger.auction(auction_id)


AUCTION = {"user": {"id": "u-7", "profile": {"basic_info": "teacher", "interests": ["tea"]}},
           "query": "how can i brew green tea", "ads": [{"ad_id": "Ad-3", "title": "green tea leaves", "bid": 40}]}
CLICK = {"auction_id": "a-1", "ad_id": "Ad-4", "click_token": "tok-4", "idempotency_key": "k-4"}


def test_a_ledger_that_does_not_answer_gets_503_with_retry_after_and_the_problem_list(locked_sqlite):
    client = TestClient(build_api(LedgerOnlyIngress(locked_sqlite[0]), DEFAULT_LIMITS))
    answers = [client.post("/v1/auction", json=AUCTION), client.post("/v1/clicks", json=CLICK),
               client.get("/v1/auctions/a-1", headers={"Authorization": "Bearer read-1"})]
    for answer in answers:
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"detail": ["ledger: the SQLite database is unavailable (database is locked); "
                                            "retry after 2 s"]}


def test_every_route_documents_its_503_with_the_problem_list_and_ledger_routes_their_retry_after():
    spec = build_api(LedgerOnlyIngress(None), DEFAULT_LIMITS).openapi()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            unavailable = operation["responses"]["503"]
            assert unavailable["content"]["application/json"]["schema"]["$ref"].endswith("/Problems"), path
            if path != "/healthz":  # the one route that does not touch the ledger
                assert unavailable["headers"]["Retry-After"]["schema"] == {"type": "integer"}, path
