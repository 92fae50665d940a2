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
from judge.worker import JudgeWorker
from rollout.config import RolloutConfig
from rollout.worker import RolloutWorker

log = logging.getLogger(__name__)
ROLLOUT_BATCH, JUDGE_BATCH = 32, 256


def sample_and_judge(rows: list[dict], policy_dir: str | Path, rollout: RolloutConfig, prompt_style: str,
                     judge: JudgeConfig, roles: Roles, out: Path) -> dict:
    """Write every sample with its clicks as parquet under `out`; returns counts and throughput."""
    import ray.data

    start = time.perf_counter()
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // ROLLOUT_BATCH))
    samples = dataset.map_batches(
        RolloutWorker, batch_size=ROLLOUT_BATCH, **engine_pool_args(roles.rollout),
        fn_constructor_kwargs={"model_dir": str(policy_dir), "rollout_config": rollout.model_dump(),
                               "prompt_style": prompt_style,
                               "tensor_parallel_size": roles.rollout.tensor_parallel_size},
    )
    judged = samples.map_batches(JudgeWorker, batch_size=JUDGE_BATCH, **engine_pool_args(roles.judge),
                                 fn_constructor_kwargs={"judge_config": judge.model_dump()})
    judged.write_parquet(str(out / "samples"))
    seconds = time.perf_counter() - start
    table = read_samples(out)
    tokens = int(table["token_ids"].map(len).sum())  # read_samples made them lists
    log.info("sampled and judged %d answers (%d tokens) in %.1fs: %.0f tokens/s",
             len(table), tokens, seconds, tokens / seconds)
    return {"answers": len(table), "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_second": round(tokens / seconds, 1),
            "judge_failures": int((~table["judge_ok"]).sum())}


def token_list(value) -> list[int]:
    """Ray writes ragged token-id columns as tensors: a TensorArrayElement once Ray is imported, else a
    {"data", "shape"} struct. Either way, plain ints."""
    if isinstance(value, dict):
        return [int(t) for t in value["data"]]
    return [int(t) for t in (value.to_numpy() if hasattr(value, "to_numpy") else value)]


def read_samples(stage_dir: Path, purpose: str | None = None) -> pd.DataFrame:
    table = pd.read_parquet(stage_dir / "samples")
    # Ray Data writes rows in whatever order its workers finish; later stages must not depend on it.
    table = table.sort_values(["purpose", "request_id", "probe_ad", "bids", "sample"], ignore_index=True)
    if purpose is not None:
        table = table[table["purpose"] == purpose].reset_index(drop=True)
    tokens = pd.Series([token_list(v) for v in table["token_ids"]], index=table.index, dtype=object)
    return table.assign(token_ids=tokens)
