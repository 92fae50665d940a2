"""Plumbing every trainer shares: DeepSpeed engines inside Ray Train workers, and HF checkpoints.

A trainer supplies a per-worker loop; this module builds the DeepSpeed engine (a torch AdamW, so no
JIT-built optimizer, and a cosine schedule with warmup), runs the loop under a TorchTrainer, and
saves the model as an HF directory (ZeRO-3 shards gathered first).
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch

from cluster.layout import TrainerRole

log = logging.getLogger(__name__)


# "bf16": bf16 weights and gradients, fp32 master weights in the optimizer (large models on GPUs).
# "bf16_autocast": fp32 weights and gradients, bf16 matrix products (torch.autocast): the tiny SFT's
# attention circuits never formed with bf16 gradients, and formed earlier than in fp32 with autocast.
Precision = Literal["fp32", "bf16", "bf16_autocast"]


@dataclass(frozen=True)
class OptimizerPlan:
    """The engine's optimizer side: AdamW at `lr` on a cosine schedule with warmup over `total_steps`."""

    lr: float
    total_steps: int
    warmup_ratio: float = 0.0
    micro_batch: int = 1
    grad_accum: int = 1
    zero_stage: int = 0
    precision: Precision = "fp32"
    weight_decay: float = 0.0


@dataclass(frozen=True)
class WorkerSetup:
    """What every training loop's workers share: where rank 0 writes the model, the CPUs each worker was
    given, the optimizer, and the file progress lines go to (`run_ray_train` sets it)."""

    out_dir: str
    cpus_per_worker: float
    optimizer: OptimizerPlan
    progress_file: str = ""


@dataclass(frozen=True)
class TrainerRun:
    """Where one fit runs: the trainer role's workers, the directory the model goes to, the storage Ray
    Train writes its own files to, and the seed."""

    role: TrainerRole
    out: Path
    storage: Path
    seed: int = 0


def deepspeed_config(micro_batch: int, grad_accum: int, world_size: int, zero_stage: int,
                     precision: Precision = "fp32") -> dict:
    return {
        "train_micro_batch_size_per_gpu": micro_batch,
        "gradient_accumulation_steps": grad_accum,
        "train_batch_size": micro_batch * grad_accum * world_size,
        "zero_optimization": {"stage": zero_stage},
        "bf16": {"enabled": precision == "bf16"},
        "torch_autocast": {"enabled": precision == "bf16_autocast", "dtype": "bfloat16"},
        "gradient_clipping": 1.0,
        "steps_per_print": 10**9,
        "zero_allow_untested_optimizer": True,
    }


def cosine_with_warmup(total_steps: int, warmup_ratio: float) -> Callable[[int], float]:
    warmup = max(1, int(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


STALE_LOCK_S = 300  # the JIT build holds its lock ~35-50 s; a lock this old belongs to a killed process


def clear_stale_extension_locks() -> None:
    """DeepSpeed's first init JIT-builds a shm comm op under a lock file (torch FileBaton). A process
    killed during that build leaves the file behind and every later init waits on it forever."""
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR", Path.home() / ".cache" / "torch_extensions"))
    for lock in root.glob("*/*/lock"):
        try:
            if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
                log.warning("removing stale torch extension lock %s (its builder was killed)", lock)
                lock.unlink()
        except FileNotFoundError:
            pass


def deepspeed_engine(model: torch.nn.Module, plan: OptimizerPlan):
    """Wrap `model` in a DeepSpeed engine; torch.distributed is already set up by Ray Train."""
    import deepspeed

    clear_stale_extension_locks()
    world_size = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=plan.lr, weight_decay=plan.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(plan.total_steps, plan.warmup_ratio))
    engine, optimizer, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler,
        config=deepspeed_config(plan.micro_batch, plan.grad_accum, world_size, plan.zero_stage, plan.precision),
    )
    return engine


def save_hf_model(engine, out: str | Path, zero_stage: int, tokenizer=None) -> None:
    """Write the engine's model as an HF directory from rank 0 (every rank must call this)."""
    module = engine.module
    state = engine._zero3_consolidated_16bit_state_dict() if zero_stage == 3 else None
    if torch.distributed.get_rank() == 0:
        Path(out).mkdir(parents=True, exist_ok=True)
        module.save_pretrained(out, state_dict=state) if state is not None else module.save_pretrained(out)
        if tokenizer is not None:
            tokenizer.save_pretrained(out)
    torch.distributed.barrier()


def finish_worker() -> None:
    """Without an explicit barrier and teardown about 1 in 10 two-process runs abort at exit (ENV.md)."""
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def report_progress(setup: WorkerSetup, line: str) -> None:
    """A progress line from a training loop's rank 0: printed (Ray's worker log) and appended to the file
    run_ray_train follows, so it reaches the driver's terminal even when workers' output does not."""
    print(line, flush=True)
    if setup.progress_file:
        with open(setup.progress_file, "a") as handle:
            handle.write(line + "\n")


class FollowProgress(threading.Thread):
    """Logs each line appended to `path` until stopped (then reads what is left once more)."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stopped, self.offset = path, threading.Event(), 0

    def run(self) -> None:
        while True:
            stopping = self.stopped.wait(1.0)
            if self.path.is_file():
                with open(self.path) as handle:
                    handle.seek(self.offset)
                    for line in handle:
                        log.info("%s", line.rstrip())
                    self.offset = handle.tell()
            if stopping:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def run_ray_train(loop: Callable[[dict], None], loop_config: Any, role, datasets: dict, storage: str | Path,
                  name: str):
    """Run `loop({"loop": loop_config})` on `role.workers` Ray Train workers with the given Ray Datasets.
    `loop_config` is a frozen dataclass with a `setup: WorkerSetup`; the loop's report_progress lines are
    logged here as they come (storage is shared with the workers)."""
    from ray.train import DataConfig, RunConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from cluster.resources import scaling_config

    storage = Path(storage).resolve()
    progress = storage / name / f"progress-{time.time_ns()}.log"
    progress.parent.mkdir(parents=True, exist_ok=True)
    trainer = TorchTrainer(
        loop, train_loop_config={"loop": replace(loop_config, setup=replace(loop_config.setup,
                                                                             progress_file=str(progress)))},
        scaling_config=scaling_config(role),
        datasets=datasets, dataset_config=DataConfig(execution_options=ordered_ingest()),
        torch_config=TorchConfig(backend="gloo" if role.gpus == 0 else "nccl"),
        run_config=RunConfig(name=name, storage_path=str(storage)),
    )
    follower = FollowProgress(progress)
    follower.start()
    try:
        return trainer.fit()
    finally:
        follower.stop()


def ordered_ingest():
    """Ray Train's ingest options with rows kept in order: each worker's shard and batches are then fixed
    by the data, not by which worker asked first, so a fit repeats exactly (runs are reproducible)."""
    from ray.train import DataConfig

    options = DataConfig.default_ingest_options()
    options.preserve_order = True
    return options


def bf16_supported(role) -> bool:
    """bf16 is fast on GPUs and on CPUs with AVX-512 BF16; elsewhere it would be emulated (slow)."""
    if role.gpus > 0:
        return True
    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


def worker_threads(cpus: float) -> None:
    """Match torch's threads to the CPUs Ray gave this worker, rounded (at least one): a worker given
    1.5 CPUs leaves half a CPU to the Ray Data tasks that feed it and computes with two threads."""
    threads = max(1, round(cpus))
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
