"""Build the tiny base policy: tokenizer + Qwen3 + SFT on the pre-training corpus (Ray Train + DeepSpeed)."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from cluster.layout import TrainerRole
from irpo.ds_train import bf16_supported
from irpo.config import BasePolicyConfig
from irpo.sft import micro_batch_record, sft_loop, token_budget_batches, tokenize_examples
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
    init_dir = init_tiny_policy(work / "init", seed=config.seed, pretrained_embeddings=config.pretrained_embeddings,
                                hidden=config.hidden_size, layers=config.layers, heads=config.heads)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    rows = tokenize_examples(sft_examples(world, config.examples, config.seed, config.auction_share,
                                          config.format_error_rate, config.unrelated_share), tokenizer)
    budget = max(1, config.batch_tokens // role.workers)
    batches = [b for epoch in range(config.epochs) for b in token_budget_batches(rows, budget, config.seed + epoch)]
    batches = batches[: len(batches) - len(batches) % role.workers] or batches  # every worker takes every step
    steps = len(batches) // role.workers
    log.info("base corpus: %d chats, %d tokens, %d steps of <= %d tokens per worker, built in %.1fs", len(rows),
             sum(len(r["input_ids"]) for r in rows), steps, budget, time.perf_counter() - start)
    loop_config = {
        "init_dir": str(init_dir), "out_dir": str(work / "final"), "cpus_per_worker": role.cpus, "lr": config.lr,
        "total_steps": steps, "warmup_ratio": config.warmup_ratio, "zero_stage": role.zero_stage,
        "precision": "bf16_autocast" if config.bf16 and bf16_supported(role) else "fp32",
        "workers": role.workers, "report_every": max(1, steps // 20),
    }
    dataset = ray.data.from_items([micro_batch_record(b) for b in batches])
    run_sft(loop_config, role, dataset, work)
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(work / "final"), out)
    shutil.rmtree(work, ignore_errors=True)
    log.info("base policy written to %s in %.1fs (%d steps)", out, time.perf_counter() - start, steps)
    return out


def run_sft(loop_config: dict, role: TrainerRole, dataset, work: Path):
    from irpo.ds_train import run_ray_train

    return run_ray_train(sft_loop, loop_config, role, {"train": dataset}, work / "ray_train", "base_sft")
