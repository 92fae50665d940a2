"""The ledger behind the endpoint survives its database: a PostgreSQL server restarted under concurrent
auctions and clicks through two ingress replicas, and a server killed with SIGKILL over a SQLite file."""
import collections
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import ROOT, free_port
from serving_server import BODY, Server, policy, post, read_record  # noqa: F401 - `policy` is a fixture


def two_ingress_layout(tmp_path):
    import yaml

    layout = yaml.safe_load((ROOT / "ray_config.yaml").read_text())
    layout["roles"]["serve"]["ingress_replicas"] = 2  # two connection pools on one database
    (tmp_path / "ray_config.yaml").write_text(yaml.safe_dump(layout))
    return tmp_path / "ray_config.yaml"


def concurrent_retries_charge_once(server) -> tuple[str, str, float]:
    """Twenty retries of one click at once: one charge, which every retry returns; (auction, ad, amount)."""
    data = post(server, "/v1/auction", BODY).json()
    ad = data["ads"][0]
    clicks = [{"auction_id": data["auction_id"], "ad_id": ad["ad_id"], "click_token": ad["click_token"],
               "idempotency_key": f"retry-{k}"} for k in range(20)]
    with ThreadPoolExecutor(20) as pool:
        charges = [r.json() for r in pool.map(lambda c: post(server, "/v1/clicks", c), clicks)]
    assert sum(not c["duplicate"] for c in charges) == 1
    first = next(c for c in charges if not c["duplicate"])
    assert {c["idempotency_key"] for c in charges} == {first["idempotency_key"]}
    return data["auction_id"], ad["ad_id"], first["amount"]


def test_two_ingress_replicas_on_one_postgresql_charge_once_and_ride_out_its_restart_under_load(policy, tmp_path):
    """Concurrent retries of one click through both replicas charge it once; then the database is restarted
    under concurrent auctions and clicks: only documented 503s, every acknowledged auction recorded and every
    acknowledged click charged exactly once."""
    import threading

    import psycopg
    from postgres_server import postgres_instance

    acknowledged, charged, statuses, stop = [], [], collections.Counter(), threading.Event()

    def client(worker: int) -> None:
        for k in range(10_000):
            if stop.is_set():
                return
            answer = post(server, "/v1/auction", BODY)
            statuses[answer.status_code] += 1
            if answer.status_code == 503:
                assert answer.headers["retry-after"] and answer.json()["detail"], answer.text
            if answer.status_code != 200:
                continue
            data = answer.json()
            acknowledged.append(data["auction_id"])
            for ad in data["ads"]:
                click = {"auction_id": data["auction_id"], "ad_id": ad["ad_id"], "click_token": ad["click_token"],
                         "idempotency_key": f"{worker}-{k}-{ad['ad_id']}"}
                for _ in range(20):  # a client retries a 503 with the same key
                    charge = post(server, "/v1/clicks", click)
                    statuses[charge.status_code] += 1
                    if charge.status_code != 503:
                        break
                    time.sleep(0.5)
                if charge.status_code == 200:
                    charged.append((data["auction_id"], ad["ad_id"], ad["cpc"]))

    with postgres_instance() as database:
        server = Server(policy, database.url, free_port(), "serving.ledger_timeout_s=2",
                        ray_config=two_ingress_layout(tmp_path))
        try:
            charged.append(concurrent_retries_charge_once(server))
            workers = [threading.Thread(target=client, args=(w,)) for w in range(6)]
            for w in workers:
                w.start()
            time.sleep(5)
            before = sum(statuses.values())
            database.stop("fast")  # ends every session the two pools hold
            time.sleep(3)
            database.start()
            time.sleep(8)
            stop.set()
            for w in workers:
                w.join()
        finally:
            server.kill()
        assert before > 0 and set(statuses) <= {200, 503} and statuses[503] > 0, statuses  # the outage was hit
        assert statuses[200] > before  # it recovered
        with psycopg.connect(database.url) as db:
            recorded = {r[0] for r in db.execute("SELECT auction_id FROM auctions")}
            charges = db.execute("SELECT auction_id, ad_id, amount FROM charges").fetchall()
    assert set(acknowledged) <= recorded
    assert sorted(charges) == sorted(charged)  # every acknowledged click charged exactly once, nothing else


def test_the_ledger_keeps_every_charge_through_a_sigkill_and_a_restart(policy, tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    first = Server(policy, ledger, free_port())
    data = post(first, "/v1/auction", BODY).json()
    ad = data["ads"][1]
    click = {"auction_id": data["auction_id"], "ad_id": ad["ad_id"], "click_token": ad["click_token"],
             "idempotency_key": "kill-1"}
    assert post(first, "/v1/clicks", click).status_code == 200
    first.kill()
    with sqlite3.connect(ledger) as db:  # the file itself holds the charge, before any restart
        assert db.execute("SELECT amount FROM charges").fetchall() == [(12.5,)]
    second = Server(policy, ledger, free_port())
    try:
        record = read_record(second, data["auction_id"], data["read_token"]).json()
        assert [(c["ad_id"], c["amount"]) for c in record["charges"]] == [("Ad-4", 12.5)]
        assert post(second, "/v1/clicks", click).json()["duplicate"]
    finally:
        second.kill()
