"""Build the tiny base policy: tokenizer + random Qwen3 + SFT on the pre-training corpus (Ray Train)."""
from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path

from cluster.layout import TrainerRole
from irpo.config import BasePolicyConfig
from irpo.sft import sft_loop, tokenize_examples
from irpo.sft_corpus import sft_examples
from irpo.tiny_model import init_tiny_policy
from judge.world import World

log = logging.getLogger(__name__)


def build_tiny_base(world: World, out: str | Path, config: BasePolicyConfig, role: TrainerRole) -> Path:
    """Train the base policy into `out` (an HF directory). Ray must be initialised."""
    import ray.data
    from transformers import AutoTokenizer

    out = Path(out).resolve()  # Ray Train workers run in their own working directories
    work = out.parent / f".{out.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()
    init_dir = init_tiny_policy(work / "init", seed=config.seed, hidden=config.hidden_size, layers=config.layers,
                                heads=config.heads)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    rows = tokenize_examples(sft_examples(world, config.examples, config.seed, config.auction_share,
                                          config.format_error_rate), tokenizer)
    rows = bucket_by_length(rows, config.micro_batch * role.workers, config.seed)
    log.info("base corpus: %d chats, %d tokens, built in %.1fs", len(rows), sum(len(r["input_ids"]) for r in rows),
             time.perf_counter() - start)
    steps = math.ceil(len(rows) / (config.micro_batch * role.workers)) * config.epochs
    loop_config = {
        "init_dir": str(init_dir), "out_dir": str(work / "final"), "cpus_per_worker": role.cpus, "lr": config.lr,
        "total_steps": steps, "warmup_ratio": config.warmup_ratio, "micro_batch": config.micro_batch,
        "zero_stage": config.zero_stage, "bf16": config.bf16, "epochs": config.epochs,
        "report_every": max(1, steps // 20),
    }
    run_sft(loop_config, role, ray.data.from_items(rows), work)
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(work / "final"), out)
    shutil.rmtree(work, ignore_errors=True)
    log.info("base policy written to %s in %.1fs (%d steps)", out, time.perf_counter() - start, steps)
    return out


def bucket_by_length(rows: list[dict], group: int, seed: int) -> list[dict]:
    """Order rows so each consecutive `group` has similar lengths, groups in random order.

    Batches are padded to their longest row: a 30-token comparison batched with a 400-token auction
    prompt costs 400 tokens of compute. Bucketing makes the cost the real token count.
    """
    import random

    ordered = sorted(rows, key=lambda r: len(r["input_ids"]))
    groups = [ordered[i : i + group] for i in range(0, len(ordered), group)]
    random.Random(seed).shuffle(groups)
    return [row for g in groups for row in g]


def run_sft(loop_config: dict, role: TrainerRole, dataset, work: Path):
    from irpo.ds_train import run_ray_train

    return run_ray_train(sft_loop, loop_config, role, {"train": dataset}, work / "ray_train", "base_sft")
