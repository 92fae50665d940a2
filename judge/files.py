"""World and answer files: write a built-in world (`llm-auction world build`) and label a file of answers
with clicks (`llm-auction judge`)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from auction.codec import request_to_json
from auction.config import AuctionConfig
from judge.bids import draw_bids
from judge.config import JudgeConfig
from judge.environment import build_world, simulated_user
from judge.jsonl import read_records
from judge.worker import JudgeWorker
from judge.world import save_world
from judge.world_report import world_report

log = logging.getLogger(__name__)


def write_world(name: str, out: str, seed: int, judge: JudgeConfig, auction: AuctionConfig) -> dict:
    """Write the world's JSONL files and `report.json` (optimal ad counts, bid-blind efficiency)."""
    start = time.perf_counter()
    world = build_world(name, seed)
    directory = save_world(world, out)
    report = world_report(simulated_user(world, judge), auction, "test", judge.seed)
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    log.info("world %s written to %s in %.1fs", name, directory, time.perf_counter() - start)
    return report


class AnswersFileError(ValueError):
    """An answers file that cannot be judged; the message names file, line and field."""


def read_answers(path: str | Path, judge: JudgeConfig, world) -> list[dict]:
    """Rows {"request_id", "request", "answer"}; missing bids are the test split's fixed draw."""
    rows = []
    for where, record in read_records(path, AnswersFileError):
        query = world.queries.get(record.get("request_id"))
        if query is None:
            raise AnswersFileError(f"{where}: request_id: not a query of world {world.name!r}")
        if not isinstance(record.get("answer"), str):
            raise AnswersFileError(f"{where}: answer: required string")
        bids = record.get("bids") or draw_bids(judge.seed, "test", 0, query.query_id, world.candidate_ids(query))
        if not isinstance(bids, dict) or set(bids) != set(world.candidate_ids(query)):
            raise AnswersFileError(f"{where}: bids: must give one bid for every candidate of the request")
        request = request_to_json(world.request(query, bids))
        rows.append({"request_id": query.query_id, "request": request, "answer": record["answer"]})
    return rows


def judge_answers_file(answers: str, out: str, judge: JudgeConfig, batch_size: int = 64) -> dict:
    """Judge every answer of a JSONL file in-process; write one JSONL `JudgedSample` per answer."""
    worker = JudgeWorker(judge.model_dump())
    rows = read_answers(answers, judge, worker.world)
    start = time.perf_counter()
    judged = []
    for offset in range(0, len(rows), batch_size):
        chunk = rows[offset : offset + batch_size]
        judged += worker.judge_batch({key: [row[key] for row in chunk] for key in chunk[0]})
        log.info("judged %d/%d", len(judged), len(rows))
    seconds = time.perf_counter() - start
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as handle:
        handle.writelines(json.dumps(record.to_dict(), ensure_ascii=False) + "\n" for record in judged)
    failed = sum(not record.judge_ok for record in judged)
    return {"judged": len(judged), "failed": failed, "seconds": seconds,
            "judgements_per_second": len(judged) / seconds if seconds else 0.0}
