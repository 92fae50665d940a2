"""JudgeWorker: clicks for a batch of answers, for `dataset.map_batches(JudgeWorker, ...)`.

Input columns: `request_id`, `answer` (text), `bids` (JSON object ad_id -> bid).
Added columns: `inserted` (JSON list of ad IDs), `format_errors` (int), `clicks` (JSON ad_id -> bool),
`click_probs` (JSON ad_id -> exact probability; simulated judge only, else "{}"), `judge_ok` (bool),
`judge_error` (why a failed judgement failed, else "").
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from auction.parser import parse_request_answer
from judge.chat_backends import EngineChatBackend, OpenAIChatBackend
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from judge.llm_judge import LLMJudge

log = logging.getLogger(__name__)
DEFAULT_JUDGE_MODEL_DIR = Path.home() / ".cache" / "llm-auction" / "smollm2-135m-instruct"


def make_llm_judge(config: JudgeConfig) -> LLMJudge:
    llm = config.llm
    if llm.backend == "openai":
        return LLMJudge(OpenAIChatBackend(llm, llm.model or "default"), llm)
    from rollout.smollm2 import import_smollm2
    from rollout.vllm_engine import VLLMEngine

    model_dir = llm.model or import_smollm2(DEFAULT_JUDGE_MODEL_DIR)
    return LLMJudge(EngineChatBackend(VLLMEngine(model_dir, llm.vllm), llm), llm)


class JudgeWorker:
    def __init__(self, judge_config: dict[str, Any]):
        self.config = JudgeConfig.model_validate(judge_config)
        self.world = get_world(self.config.world, self.config.world_seed)
        self.user = simulated_user(self.world, self.config) if self.config.kind == "simulated" else None
        self.llm_judge = make_llm_judge(self.config) if self.config.kind == "llm" else None
        self.judged, self.failed, self.seconds = 0, 0, 0.0

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        items = []
        for request_id, text, bids in zip(batch["request_id"], batch["answer"], batch["bids"]):
            request = self.world.request(self.world.queries[str(request_id)], json.loads(bids))
            items.append((request, parse_request_answer(str(text), request)))
        clicks, probs, ok, errors = self._judge(items)
        self._account(len(items), ok, time.perf_counter() - start)
        return {
            **batch,
            "inserted": [json.dumps(list(answer.ad_ids)) for _, answer in items],
            "format_errors": [len(answer.errors) for _, answer in items],
            "clicks": [json.dumps(c) for c in clicks],
            "click_probs": [json.dumps(p) for p in probs],
            "judge_ok": ok,
            "judge_error": errors,
        }

    def _judge(self, items):
        if self.user is not None:
            probs = [self.user.click_probs(request, answer) for request, answer in items]
            clicks = [self.user.sample_clicks(request, answer, self.config.seed) for request, answer in items]
            return clicks, probs, [True] * len(items), [""] * len(items)
        results = self.llm_judge.judge(items, seed=self.config.seed + self.judged)
        return [r.clicks for r in results], [{} for _ in results], [r.ok for r in results], [r.error for r in results]

    def _account(self, n: int, ok: list[bool], seconds: float) -> None:
        self.judged += n
        self.failed += n - sum(ok)
        self.seconds += seconds
        log.info("judge(%s): %d judged, %d failed, %.1f judgements/s",
                 self.config.kind, self.judged, self.failed, self.judged / max(self.seconds, 1e-9))
