"""JudgeWorker: clicks for a batch of answers, for `dataset.map_batches(JudgeWorker, ...)`.

Input columns: `request` (the auction request as JSON: `auction.codec`) and `answer` (text); a rollout's
rows also carry `purpose`, `sample`, `probe_ad`, `token_ids` and `prompt_ids`. Output: one `JudgedSample` row per answer
(`judge.judged_sample`): the answer parsed once against its request, its clicks, and the simulated user's
exact click probabilities (empty under the LLM judge).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from auction.codec import request_from_json
from auction.parser import parse_request_answer
from judge.chat_backends import EngineChatBackend, OpenAIChatBackend
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from judge.judged_sample import JudgedSample
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

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        rows = [record.to_row() for record in self.judge_batch(batch)]
        return {key: [row[key] for row in rows] for key in rows[0]} if rows else {}

    def judge_batch(self, batch: dict[str, Any]) -> list[JudgedSample]:
        """Each answer parsed against its request (the only parse in training) and judged."""
        start = time.perf_counter()
        requests = [request_from_json(str(r)) for r in batch["request"]]
        items = [(request, parse_request_answer(str(text), request)) for request, text in zip(requests, batch["answer"])]
        clicks, probs, ok, errors = self._judge(items)
        self._account(len(items), ok, time.perf_counter() - start)
        return [JudgedSample(request, answer, clicks[i], probs[i], ok[i], errors[i], **_sample_fields(batch, i))
                for i, (request, answer) in enumerate(items)]

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


def _sample_fields(batch: dict[str, Any], row: int) -> dict[str, Any]:
    """What a rollout's row says about its sample; an answers file has none of it."""
    fields: dict[str, Any] = {}
    if "purpose" in batch:
        fields.update(purpose=str(batch["purpose"][row]), probe_ad=str(batch["probe_ad"][row]))
    if "sample" in batch:
        fields.update(sample=int(batch["sample"][row]), token_ids=tuple(int(t) for t in batch["token_ids"][row]))
    if "prompt_ids" in batch:
        fields.update(prompt_ids=tuple(int(t) for t in batch["prompt_ids"][row]))
    return fields
