"""RolloutWorker: sample answers for a batch of requests, for `dataset.map_batches(RolloutWorker, ...)`.

Input columns: `request_id`, `request` (the whole auction request as JSON: `auction.codec`), and
optionally `n` (samples for that row; default the worker's n), `temperature` (null: the config's) and
`keep_prompt` (true: the row's first sample keeps the prompt's token ids); any other column is copied to every
sample. Output: one row per sample with those columns plus `sample` (0..n-1), `answer`, `token_ids` and
`prompt_ids` (the prompt as the engine tokenised it, on the first sample of a `keep_prompt` row, else empty:
a prompt is long and its n samples share it). Rows carry their requests, so rollout needs no world (it sits
below judge/).
"""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from auction.codec import request_from_json
from rollout.ad_policy import AdPolicy
from rollout.config import RolloutConfig
from rollout.factory import make_engine
from rollout.prompt import PromptStyle

log = logging.getLogger(__name__)


def batch_seed(base: int, request_ids) -> int:
    """A seed fixed by the batch's contents, so a rerun of the same batch draws the same samples."""
    digest = hashlib.sha256((str(base) + "|" + "|".join(map(str, request_ids))).encode()).digest()
    return int.from_bytes(digest[:4], "big")


class RolloutWorker:
    def __init__(self, model_dir: str, rollout_config: dict[str, Any], prompt_style: PromptStyle, n: int = 1,
                 tensor_parallel_size: int = 1):
        self.config = RolloutConfig.model_validate(rollout_config)
        self.policy = AdPolicy(make_engine(model_dir, self.config, tensor_parallel_size), prompt_style,
                               self.config.mask_absent_ads)
        self.n, self.tokens, self.seconds = n, 0, 0.0

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        start = time.perf_counter()
        ids, requests = [str(r) for r in batch["request_id"]], [str(r) for r in batch["request"]]
        counts = [int(k) for k in batch["n"]] if "n" in batch else [self.n] * len(ids)
        temperatures = [_temperature(t) for t in batch["temperature"]] if "temperature" in batch else [None] * len(ids)
        parsed = [request_from_json(r) for r in requests]
        samples = self._generate(parsed, list(zip(counts, temperatures)), batch_seed(self.config.seed, ids))
        keep_prompt = [bool(k) for k in batch["keep_prompt"]] if "keep_prompt" in batch else [False] * len(ids)
        passed = [key for key in batch if key not in ("n", "temperature", "keep_prompt")]
        sampled = ("sample", "answer", "token_ids", "prompt_ids")
        out: dict[str, list] = {key: [] for key in [*passed, *sampled]}
        for row, per_prompt in enumerate(samples):
            for index, sample in enumerate(per_prompt):
                for key in passed:
                    out[key].append(batch[key][row])
                prompt = list(sample.prompt_ids) if keep_prompt[row] and index == 0 else []
                for key, value in zip(sampled, (index, sample.text, list(sample.token_ids), prompt)):
                    out[key].append(value)
        self._account(sum(len(t) for t in out["token_ids"]), time.perf_counter() - start)
        return out

    def _generate(self, requests: list, settings: list[tuple[int, float | None]], seed: int) -> list[list]:
        """One engine call per distinct (sample count, temperature), results back in row order."""
        results: list[list] = [[] for _ in requests]
        for n, temperature in sorted(set(settings), key=str):
            rows = [i for i, s in enumerate(settings) if s == (n, temperature)]
            sampling = (self.config.sampling if temperature is None
                        else self.config.sampling.model_copy(update={"temperature": temperature}))
            outputs = self.policy.generate([requests[i] for i in rows], n, sampling, seed + n, logprobs=False)
            for i, output in zip(rows, outputs):
                results[i] = output
        return results

    def _account(self, tokens: int, seconds: float) -> None:
        self.tokens += tokens
        self.seconds += seconds
        log.info("rollout(%s): %d tokens, %.1f tokens/s", self.config.engine, self.tokens, self.tokens / self.seconds)


def _temperature(value) -> float | None:
    """A row's sampling temperature; missing or NaN (Arrow's null after pandas) means the config's."""
    return None if value is None or value != value else float(value)

