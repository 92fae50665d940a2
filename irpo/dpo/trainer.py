"""DPO on one policy phase's preferences under Ray Train + DeepSpeed ZeRO (METHOD.md section 4).

Each worker holds only the policy: the reference log-probs arrive precomputed in the dataset. A record
is one prompt with its winner and losers; a micro-batch's winners and losers go through the model
together in one padded batch. Records are shuffled, and each optimizer step weighs its prompts alike.
"""
from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from irpo.config import DPOConfig
from irpo.dpo.pairs import pad_token_id
from irpo.dpo.step import PreferenceObjective, preference_loss
from irpo.ds_train import (
    OptimizerPlan,
    TrainerRun,
    WorkerSetup,
    deepspeed_engine,
    finish_worker,
    report_progress,
    run_ray_train,
    save_hf_model,
    worker_threads,
)


@dataclass(frozen=True)
class DPOLoopConfig:
    setup: WorkerSetup
    policy_dir: str  # the policy trained, and the reference its log-probs were taken from
    objective: PreferenceObjective
    epochs: int
    seed: int
    shuffle_buffer: int  # pairs each worker shuffles among
    max_kl: float | None = None  # end the phase once the KL estimate over the last kl_window steps exceeds this
    kl_window: int = 4


def dpo_loop(ray_config: dict) -> None:
    """One Ray Train worker: DPO over this worker's shard of pairs, then an HF checkpoint."""
    import ray.train.torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config: DPOLoopConfig = ray_config["loop"]
    worker_start = time.perf_counter()
    setup, plan = config.setup, config.setup.optimizer
    worker_threads(setup.cpus_per_worker)
    tokenizer = AutoTokenizer.from_pretrained(config.policy_dir)
    dtype = torch.bfloat16 if plan.precision == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(config.policy_dir, dtype=dtype).to(ray.train.torch.get_device())
    engine = deepspeed_engine(model, plan)
    shard = ray.train.get_dataset_shard("train")
    history, start, prompts_seen = [], time.perf_counter(), 0
    micro_steps = plan.total_steps * plan.grad_accum
    report_every, rank0 = max(1, micro_steps // 4), ray.train.get_context().get_world_rank() == 0
    budget = KLBudget(config.max_kl, config.kl_window)
    for epoch in range(config.epochs):
        for batch in shard.iter_batches(batch_size=plan.micro_batch, batch_format="numpy",
                                        local_shuffle_buffer_size=config.shuffle_buffer,
                                        local_shuffle_seed=config.seed + epoch):
            stats = preference_loss(engine.module, batch, pad_token_id(tokenizer), config.objective)
            boundary = engine.is_gradient_accumulation_boundary()
            engine.backward(stats.loss)
            engine.step()
            prompts_seen += len(batch["prompt_ids"])
            history.append({"epoch": epoch, **stats.floats(), "lr": engine.get_lr()[0],
                            "prompts_per_second": prompts_seen / (time.perf_counter() - start)})
            stopped_at = budget.after_micro_batch(history[-1]["kl"], boundary)
            if rank0 and len(history) % report_every == 0:
                done = len(history) / micro_steps
                report_progress(setup, f"DPO {done:.0%}: loss {history[-1]['per_prompt']:.3f}, pair accuracy "
                                        f"{history[-1]['accuracy']:.2f}, ETA "
                                        f"{(time.perf_counter() - start) * (1 / done - 1):.0f} s")
            if stopped_at is not None:
                history[-1]["stopped_at_kl"] = stopped_at
                break
        ray.train.report({"epoch": epoch, **history[-1]} if history else {"epoch": epoch})
        if history and "stopped_at_kl" in history[-1]:
            break
    steps_end = time.perf_counter()
    save_hf_model(engine, setup.out_dir, plan.zero_stage, tokenizer)
    if ray.train.get_context().get_world_rank() == 0:
        (Path(setup.out_dir) / "dpo_history.json").write_text(json.dumps(history, indent=1))
        # where a worker's time went: model load and DeepSpeed init, the training loop, the checkpoint
        seconds = {"worker_setup": start - worker_start, "training_loop": steps_end - start,
                   "save": time.perf_counter() - steps_end}
        (Path(setup.out_dir) / "dpo_seconds.json").write_text(json.dumps(seconds))
    finish_worker()


class KLBudget:
    """Ends a policy phase once the KL(pi_ref || pi) estimate, averaged over the last `window` optimizer steps
    and over all workers, exceeds `limit` (None: never)."""

    def __init__(self, limit: float | None, window: int):
        self.limit, self.step = limit, []
        self.recent: deque[float] = deque(maxlen=window)

    def after_micro_batch(self, kl: float, boundary: bool) -> float | None:
        """Record one micro-batch's estimate; at an optimizer step's end, the window's mean if it is over."""
        if self.limit is None:
            return None
        self.step.append(kl)
        if not boundary:
            return None
        self.recent.append(mean_over_workers(self.step))
        self.step = []
        mean = float(np.mean(self.recent))
        return mean if len(self.recent) == self.recent.maxlen and mean > self.limit else None


def mean_over_workers(values: list[float]) -> float:
    """The mean of `values` over every worker's (all workers must call it at the same step, and do: each
    holds an equal shard, so they reach each optimizer step together)."""
    import torch.distributed as dist

    total = torch.tensor([sum(values), len(values)], dtype=torch.float64)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        import ray.train.torch

        total = total.to(ray.train.torch.get_device())
        dist.all_reduce(total)
    return float(total[0] / max(total[1], 1))


def trains_in_bf16(config: DPOConfig, role) -> bool:
    """DPO's precision: bf16 weights on GPUs (when `irpo.dpo.bf16`), fp32 on CPUs. The reference
    log-probs are taken in the same precision, so that at the first step policy and reference agree."""
    return config.bf16 and role.gpus > 0


def train_dpo(dataset, n_prompts: int, policy_dir: Path, config: DPOConfig, run: TrainerRun) -> dict:
    """DPO from `policy_dir` (also the reference) into the HF directory `run.out`; returns the summary."""
    role = run.role
    grad_accum = max(1, config.batch_size // (config.micro_batch_size * role.workers))
    steps_per_epoch = max(1, math.ceil(n_prompts / (config.micro_batch_size * role.workers * grad_accum)))
    bf16 = trains_in_bf16(config, role)
    plan = OptimizerPlan(lr=config.lr, total_steps=steps_per_epoch * config.epochs, warmup_ratio=config.warmup_ratio,
                         micro_batch=config.micro_batch_size, grad_accum=grad_accum, zero_stage=role.zero_stage,
                         precision="bf16" if bf16 else "fp32")
    objective = PreferenceObjective(config.beta, config.nll_weight, config.dpo_weight, config.micro_batch_size)
    loop_config = DPOLoopConfig(WorkerSetup(str(run.out.resolve()), role.cpus, plan), str(policy_dir.resolve()),
                                objective, config.epochs, run.seed,
                                shuffle_buffer=max(config.micro_batch_size, n_prompts // role.workers),
                                max_kl=config.max_kl, kl_window=config.kl_window)
    run_ray_train(dpo_loop, loop_config, role, {"train": dataset}, run.storage, "dpo")
    history = json.loads((run.out / "dpo_history.json").read_text())
    seconds = {key: round(value, 1) for key, value in json.loads((run.out / "dpo_seconds.json").read_text()).items()}
    tail = history[-max(1, len(history) // 4):]
    summary = {key: float(np.mean([h[key] for h in tail])) for key in
               ("per_prompt", "dpo", "nll", "chosen_reward", "rejected_reward", "margin", "accuracy", "kl")}
    stopped = history[-1].get("stopped_at_kl") if history else None
    steps_taken = len(history) // grad_accum if stopped is not None else steps_per_epoch * config.epochs
    return {"prompts": n_prompts, "optimizer_steps": steps_taken, "planned_optimizer_steps": steps_per_epoch * config.epochs,
            "stopped_at_kl": stopped, "bf16": bf16, "worker_seconds": seconds,
            "first_loss": history[0]["per_prompt"] if history else None,
            "first_dpo_loss": history[0]["dpo"] if history else None, "last_quarter": summary}
