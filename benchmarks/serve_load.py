"""Bounded load test of the auction endpoint on 127.0.0.1, and its overhead over a bare engine call.

Run: .venv/bin/python benchmarks/serve_load.py --policy DIR [--clients 8] [--seconds 30] [--out docs/BENCHMARKS.md]

1. Bare engine: the same prompt, sampling and seed through the engine in-process, N times: p50.
2. The server (`llm-auction serve`, vLLM engine) with one client: p50 of /v1/auction for the same
   request; the ratio to (1) is the serving overhead (goal: at most 1.10).
3. C concurrent clients for T seconds: p50/p95/p99 latency, requests per second, errors.
The bare engine runs before the server starts, so the two never compete for the CPUs.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "llm-auction")
SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 64, "seed": 1}
BODY = {"user": {"id": "u-1", "profile": {"basic_info": "young teacher lives in the city", "interests": ["tea"]}},
        "query": "how can i brew green tea",
        "ads": [{"ad_id": "Ad-3", "title": "green tea leaves", "bid": 40},
                {"ad_id": "Ad-4", "title": "glass tea kettle", "bid": 25},
                {"ad_id": "Ad-9", "title": "road bike helmet", "bid": 80},
                {"ad_id": "Ad-1", "title": "dark roast coffee beans", "bid": 60}],
        "sampling": SAMPLING}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bare_engine_p50(policy: str, repeats: int) -> float:
    import gc

    from auction.codec import request_to_json
    from rollout.config import RolloutConfig, SamplingConfig
    from rollout.mention_mask import mention_rules
    from serving.ingress import to_request
    from serving.policy import PolicyModel
    from serving.schemas import AuctionBody

    model = PolicyModel(policy, RolloutConfig().model_dump(), "tiny")
    request = to_request("bench", AuctionBody.model_validate(BODY))
    prompt = model.prompt(request_to_json(request))
    rules = mention_rules(model.engine, [request], True)
    sampling = SamplingConfig(**{k: v for k, v in SAMPLING.items() if k != "seed"})
    model.engine.generate([prompt], 1, sampling, SAMPLING["seed"], token_rules=rules)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.engine.generate([prompt], 1, sampling, SAMPLING["seed"], token_rules=rules)
        times.append(time.perf_counter() - start)
    del model  # free the engine's memory before the server loads its own
    gc.collect()
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(policy: str, ledger: str, port: int) -> subprocess.Popen:
    server = subprocess.Popen([CLI, "serve", "--policy", policy, "--port", str(port), "--ledger", ledger],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(1)
    raise RuntimeError("server did not come up")


async def client_loop(url: str, until: float, latencies: list[float], errors: list[str]) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                response = await client.post(f"{url}/v1/auction", json=BODY)
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)
            except httpx.HTTPError as err:
                errors.append(repr(err))


async def load(url: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(*(client_loop(url, until, latencies, errors) for _ in range(clients)))
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "seconds": wall,
            "rps": len(latencies) / wall, "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default=None, help="append the results to this markdown file")
    args = parser.parse_args()
    bare = bare_engine_p50(args.policy, args.repeats)
    port, ledger = free_port(), f"/tmp/serve_load_{os.getpid()}.sqlite"
    server = start_server(args.policy, ledger, port)
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(load(url, 1, 3))  # warm-up
        single = asyncio.run(load(url, 1, args.seconds / 2))
        many = asyncio.run(load(url, args.clients, args.seconds))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    ratio = single["p50"] / bare
    lines = [
        f"\n## Serving load test ({time.strftime('%Y-%m-%d')}, 2-core CPU box, vLLM-CPU, policy {Path(args.policy).name})",
        f"Command: `.venv/bin/python benchmarks/serve_load.py --policy {args.policy} --clients {args.clients} "
        f"--seconds {args.seconds:g}`",
        "",
        "| load | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (("1 client", single), (f"{args.clients} clients", many)):
        lines.append(f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.2f} | {1000 * r['p50']:.1f} | "
                     f"{1000 * r['p95']:.1f} | {1000 * r['p99']:.1f} |")
    lines += ["", f"Bare engine generate p50 (same prompt, sampling, seed; in-process): {1000 * bare:.1f} ms. "
              f"`/v1/auction` p50 at 1 client / bare p50 = **{ratio:.2f}** (goal <= 1.10)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
