"""One rollout pass: engine actors sample answers, judge actors label clicks, streaming together.

requests (Ray Dataset) -> map_batches(RolloutWorker) -> map_batches(JudgeWorker) -> parquet.
The engine is built from the policy's HF directory: loading the epoch's checkpoint is the weight sync.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from cluster.layout import Roles
from cluster.resources import engine_pool_args
from judge.config import JudgeConfig
from judge.judged_sample import ADDED_LATER, COLUMNS, JudgedSample, order_key
from judge.worker import JudgeWorker
from rollout.config import RolloutConfig
from rollout.worker import RolloutWorker

log = logging.getLogger(__name__)
ROLLOUT_BATCH, JUDGE_BATCH = 32, 256


def sample_and_judge(rows: list[dict], policy_dir: str | Path, rollout: RolloutConfig, prompt_style: str,
                     judge: JudgeConfig, roles: Roles, out: Path,
                     rollout_batch: int = ROLLOUT_BATCH) -> tuple[dict, list[JudgedSample]]:
    """Write every sample with its clicks as parquet under `out`; returns counts and throughput, and the
    samples as read back. Rows with the same sample count and temperature are batched together: the
    engine takes one call per distinct setting in a batch, and larger calls generate faster."""
    import ray.data

    start = time.perf_counter()
    rows = sorted(rows, key=lambda row: (row.get("n", 1), str(row.get("temperature"))))
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // rollout_batch))
    sampled = dataset.map_batches(
        RolloutWorker, batch_size=rollout_batch, **engine_pool_args(roles.rollout),
        fn_constructor_kwargs={"model_dir": str(policy_dir), "rollout_config": rollout.model_dump(),
                               "prompt_style": prompt_style,
                               "tensor_parallel_size": roles.rollout.tensor_parallel_size},
    )
    judged = sampled.map_batches(JudgeWorker, batch_size=JUDGE_BATCH, **engine_pool_args(roles.judge),
                                 fn_constructor_kwargs={"judge_config": judge.model_dump()})
    judged.write_parquet(str(out / "samples"))
    seconds = time.perf_counter() - start
    samples = read_samples(out)
    tokens = sum(len(sample.token_ids) for sample in samples)
    log.info("sampled and judged %d answers (%d tokens) in %.1fs: %.0f tokens/s",
             len(samples), tokens, seconds, tokens / seconds)
    return {"answers": len(samples), "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_second": round(tokens / seconds, 1),
            "judge_failures": sum(not sample.judge_ok for sample in samples)}, samples


def token_list(value) -> list[int]:
    """Ray writes ragged token-id columns as tensors: a TensorArrayElement once Ray is imported, else a
    {"data", "shape"} struct. Either way, plain ints."""
    if isinstance(value, dict):
        return [int(t) for t in value["data"]]
    return [int(t) for t in (value.to_numpy() if hasattr(value, "to_numpy") else value)]


def read_samples(stage_dir: Path, purpose: str | None = None) -> list[JudgedSample]:
    """The stage's judged samples (those for `purpose`, if given), each parsed once, in a fixed order."""
    table = pd.read_parquet(stage_dir / "samples")
    missing = [column for column in COLUMNS if column not in table.columns and column not in ADDED_LATER]
    if missing:  # e.g. a run started by a version that stored samples differently
        raise ValueError(f"{stage_dir / 'samples'}: not judged samples, columns {missing} are missing; "
                         f"delete {stage_dir} and resume to sample that stage again")
    if purpose is not None:
        table = table[table["purpose"] == purpose]
    samples = [JudgedSample.from_row({**row, "token_ids": token_list(row["token_ids"])})
               for row in table.to_dict("records")]
    return sorted(samples, key=order_key)
