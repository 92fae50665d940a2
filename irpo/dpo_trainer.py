"""DPO on one policy phase's pairs under Ray Train + DeepSpeed ZeRO (METHOD.md section 4).

Each worker holds only the policy: the reference log-probs arrive precomputed in the pairs dataset.
Chosen and rejected sequences of a micro-batch go through the model together in one padded batch.
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
from irpo.ds_train import deepspeed_engine, finish_worker, run_ray_train, save_hf_model, worker_threads


def pair_tensors(batch: dict, pad_id: int) -> dict[str, torch.Tensor]:
    """Rows of chosen sequences then rejected ones, right-padded, with the completion positions marked."""
    sequences, completions = [], []
    for key in ("chosen_ids", "rejected_ids"):
        for prompt, completion in zip(batch["prompt_ids"], batch[key]):
            sequences.append(list(prompt) + list(completion))
            completions.append((len(prompt), len(prompt) + len(completion)))
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    completion_mask = torch.zeros_like(ids)
    for row, (sequence, (start, end)) in enumerate(zip(sequences, completions)):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        attention[row, : len(sequence)] = 1
        completion_mask[row, start:end] = 1
    return {"input_ids": ids, "attention_mask": attention, "completion_mask": completion_mask}


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
    history, start, pairs_seen = [], time.perf_counter(), 0
    for epoch in range(config["epochs"]):
        for batch in shard.iter_batches(batch_size=config["micro_batch"], batch_format="numpy"):
            logps = completion_logprobs(engine.module, **pair_tensors(batch, tokenizer.pad_token_id or 0))
            half = len(batch["prompt_ids"])
            stats = dpo_loss(logps[:half], logps[half:], torch.tensor(batch["ref_chosen"], dtype=torch.float32),
                             torch.tensor(batch["ref_rejected"], dtype=torch.float32),
                             torch.tensor(batch["weight"], dtype=torch.float32), config["beta"])
            engine.backward(stats.loss)
            engine.step()
            pairs_seen += half
            history.append({"epoch": epoch, "loss": stats.loss.item(), "chosen_reward": stats.chosen_reward,
                            "rejected_reward": stats.rejected_reward, "margin": stats.margin,
                            "accuracy": stats.accuracy, "lr": engine.get_lr()[0],
                            "pairs_per_second": pairs_seen / (time.perf_counter() - start)})
        ray.train.report({"epoch": epoch, **history[-1]} if history else {"epoch": epoch})
    save_hf_model(engine, config["out_dir"], config["zero_stage"], tokenizer)
    if ray.train.get_context().get_world_rank() == 0:
        (Path(config["out_dir"]) / "dpo_history.json").write_text(json.dumps(history, indent=1))
    finish_worker()


def train_dpo(pairs_dataset, n_pairs: int, policy_dir: Path, config: DPOConfig, role, out: Path,
              storage: Path) -> dict:
    """DPO from `policy_dir` (also the reference) into the HF directory `out`; returns the summary."""
    grad_accum = max(1, config.batch_size // (config.micro_batch_size * role.workers))
    steps_per_epoch = max(1, math.ceil(n_pairs / (config.micro_batch_size * role.workers * grad_accum)))
    bf16 = config.bf16 and role.gpus > 0  # CPUs train in fp32
    loop_config = {"policy_dir": str(policy_dir.resolve()), "out_dir": str(out.resolve()), "lr": config.lr,
                   "beta": config.beta, "warmup_ratio": config.warmup_ratio, "micro_batch": config.micro_batch_size,
                   "grad_accum": grad_accum, "epochs": config.epochs, "total_steps": steps_per_epoch * config.epochs,
                   "zero_stage": role.zero_stage, "bf16": bf16, "cpus_per_worker": role.cpus}
    run_ray_train(dpo_loop, loop_config, role, {"train": pairs_dataset}, storage, "dpo")
    history = json.loads((out / "dpo_history.json").read_text())
    tail = history[-max(1, len(history) // 4):]
    summary = {key: float(np.mean([h[key] for h in tail])) for key in
               ("loss", "chosen_reward", "rejected_reward", "margin", "accuracy")}
    return {"pairs": n_pairs, "optimizer_steps": steps_per_epoch * config.epochs, "bf16": bf16,
            "first_loss": history[0]["loss"] if history else None, "last_quarter": summary}
