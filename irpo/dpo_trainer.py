"""DPO on one policy phase's preferences under Ray Train + DeepSpeed ZeRO (METHOD.md section 4).

Each worker holds only the policy: the reference log-probs arrive precomputed in the dataset. A record
is one prompt with its winner and losers; a micro-batch's winners and losers go through the model
together in one padded batch. Records are shuffled, and each optimizer step weighs its prompts alike.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from irpo.config import DPOConfig
from irpo.dpo_loss import completion_logprobs, dpo_loss
from irpo.ds_train import (
    deepspeed_engine, finish_worker, report_progress, run_ray_train, save_hf_model, worker_threads,
)
from irpo.pairs import group_tensors


def dpo_loop(config: dict) -> None:
    """One Ray Train worker: DPO over this worker's shard of pairs, then an HF checkpoint."""
    import ray.train
    from transformers import AutoModelForCausalLM, AutoTokenizer

    worker_threads(config["cpus_per_worker"])
    tokenizer = AutoTokenizer.from_pretrained(config["policy_dir"])
    dtype = torch.bfloat16 if config["bf16"] else torch.float32
    model = AutoModelForCausalLM.from_pretrained(config["policy_dir"], dtype=dtype)
    engine = deepspeed_engine(model, lr=config["lr"], total_steps=config["total_steps"],
                              warmup_ratio=config["warmup_ratio"], micro_batch=config["micro_batch"],
                              grad_accum=config["grad_accum"], zero_stage=config["zero_stage"],
                              precision="bf16" if config["bf16"] else "fp32")
    shard = ray.train.get_dataset_shard("train")
    history, start, prompts_seen = [], time.perf_counter(), 0
    micro_steps = config["total_steps"] * config["grad_accum"]
    report_every, rank0 = max(1, micro_steps // 4), ray.train.get_context().get_world_rank() == 0
    for epoch in range(config["epochs"]):
        for batch in shard.iter_batches(batch_size=config["micro_batch"], batch_format="numpy",
                                        local_shuffle_buffer_size=config["shuffle_buffer"],
                                        local_shuffle_seed=config["seed"] + epoch):
            tensors, group, rules = group_tensors(batch, tokenizer.pad_token_id or 0)
            logps = completion_logprobs(engine.module, **tensors, **rules)
            winners = len(batch["prompt_ids"])
            ref_rejected = np.concatenate([np.asarray(r, dtype=np.float32) for r in batch["ref_rejected"]])
            stats = dpo_loss(logps[:winners], logps[winners:], torch.tensor(batch["ref_chosen"], dtype=torch.float32),
                             torch.from_numpy(ref_rejected), group, config["beta"], config["micro_batch"])
            engine.backward(stats.loss)
            engine.step()
            prompts_seen += winners
            history.append({"epoch": epoch, "loss": stats.loss.item() * config["micro_batch"] / winners,
                            "chosen_reward": stats.chosen_reward, "rejected_reward": stats.rejected_reward,
                            "margin": stats.margin, "accuracy": stats.accuracy, "lr": engine.get_lr()[0],
                            "prompts_per_second": prompts_seen / (time.perf_counter() - start)})
            if rank0 and len(history) % report_every == 0:
                done = len(history) / micro_steps
                report_progress(config, f"DPO {done:.0%}: loss {history[-1]['loss']:.3f}, pair accuracy "
                                        f"{history[-1]['accuracy']:.2f}, ETA "
                                        f"{(time.perf_counter() - start) * (1 / done - 1):.0f} s")
        ray.train.report({"epoch": epoch, **history[-1]} if history else {"epoch": epoch})
    save_hf_model(engine, config["out_dir"], config["zero_stage"], tokenizer)
    if ray.train.get_context().get_world_rank() == 0:
        (Path(config["out_dir"]) / "dpo_history.json").write_text(json.dumps(history, indent=1))
    finish_worker()


def train_dpo(dataset, n_prompts: int, policy_dir: Path, config: DPOConfig, role, out: Path, storage: Path,
              seed: int = 0) -> dict:
    """DPO from `policy_dir` (also the reference) into the HF directory `out`; returns the summary."""
    grad_accum = max(1, config.batch_size // (config.micro_batch_size * role.workers))
    steps_per_epoch = max(1, math.ceil(n_prompts / (config.micro_batch_size * role.workers * grad_accum)))
    bf16 = config.bf16 and role.gpus > 0  # CPUs train in fp32
    loop_config = {"policy_dir": str(policy_dir.resolve()), "out_dir": str(out.resolve()), "lr": config.lr,
                   "beta": config.beta, "warmup_ratio": config.warmup_ratio, "micro_batch": config.micro_batch_size,
                   "grad_accum": grad_accum, "epochs": config.epochs, "total_steps": steps_per_epoch * config.epochs,
                   "zero_stage": role.zero_stage, "bf16": bf16, "cpus_per_worker": role.cpus, "seed": seed,
                   "shuffle_buffer": max(config.micro_batch_size, n_prompts // role.workers)}
    run_ray_train(dpo_loop, loop_config, role, {"train": dataset}, storage, "dpo")
    history = json.loads((out / "dpo_history.json").read_text())
    tail = history[-max(1, len(history) // 4):]
    summary = {key: float(np.mean([h[key] for h in tail])) for key in
               ("loss", "chosen_reward", "rejected_reward", "margin", "accuracy")}
    return {"prompts": n_prompts, "optimizer_steps": steps_per_epoch * config.epochs, "bf16": bf16,
            "first_loss": history[0]["loss"] if history else None, "last_quarter": summary}
