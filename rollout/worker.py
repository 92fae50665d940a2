"""RolloutWorker: sample answers for a batch of requests, for `dataset.map_batches(RolloutWorker, ...)`.

Input columns: `request_id`, `bids` (JSON object ad_id -> bid). Output: one row per sample with
`request_id`, `bids`, `sample` (0..n-1), `answer`, `token_ids`, `logprob` (sum over the answer).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from judge.environment import get_world
from rollout.config import RolloutConfig
from rollout.factory import make_engine
from rollout.prompt import ad_llm_messages

log = logging.getLogger(__name__)


def batch_seed(base: int, request_ids) -> int:
    """A seed fixed by the batch's contents, so a rerun of the same batch draws the same samples."""
    digest = hashlib.sha256((str(base) + "|" + "|".join(map(str, request_ids))).encode()).digest()
    return int.from_bytes(digest[:4], "big")


class RolloutWorker:
    def __init__(self, model_dir: str, rollout_config: dict[str, Any], world: str, world_seed: int = 0,
                 n: int = 1, tensor_parallel_size: int = 1):
        self.config = RolloutConfig.model_validate(rollout_config)
        self.world = get_world(world, world_seed)
        self.style = self.config.prompt_style if self.config.prompt_style != "auto" else (
            "tiny" if self.world.name == "tiny" else "full")
        self.engine = make_engine(model_dir, self.config, tensor_parallel_size)
        self.n, self.tokens, self.seconds = n, 0, 0.0

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        start = time.perf_counter()
        ids, bids = [str(r) for r in batch["request_id"]], [str(b) for b in batch["bids"]]
        prompts = [
            self.engine.chat_prompt(ad_llm_messages(self.world.request(self.world.queries[r], json.loads(b)), self.style))
            for r, b in zip(ids, bids)
        ]
        samples = self.engine.generate(prompts, self.n, self.config.sampling, batch_seed(self.config.seed, ids))
        out: dict[str, list] = {"request_id": [], "bids": [], "sample": [], "answer": [], "token_ids": [], "logprob": []}
        for request_id, bid_json, per_prompt in zip(ids, bids, samples):
            for index, sample in enumerate(per_prompt):
                for key, value in zip(out, (request_id, bid_json, index, sample.text, list(sample.token_ids),
                                            sample.logprob)):
                    out[key].append(value)
        self._account(sum(len(t) for t in out["token_ids"]), time.perf_counter() - start)
        return out

    def _account(self, tokens: int, seconds: float) -> None:
        self.tokens += tokens
        self.seconds += seconds
        log.info("rollout(%s): %d tokens, %.1f tokens/s", self.config.engine, self.tokens, self.tokens / self.seconds)
