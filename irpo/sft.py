"""Supervised fine-tuning on chats, under Ray Train with DeepSpeed: loss on the assistant's answer only."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from collections.abc import Iterable

import numpy as np
import torch

from irpo.ds_train import deepspeed_engine, finish_worker, save_hf_model, worker_threads
from irpo.sft_corpus import Example

log = logging.getLogger(__name__)
IGNORE = -100


def tokenize_example(example: Example, tokenizer) -> dict[str, list[int]]:
    prompt = tokenizer.apply_chat_template(list(example.messages), add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    return {"input_ids": prompt_ids + answer_ids, "labels": [IGNORE] * len(prompt_ids) + answer_ids}


def tokenize_examples(examples: Iterable[Example], tokenizer) -> list[dict[str, list[int]]]:
    return [tokenize_example(e, tokenizer) for e in examples]


def pad_batch(batch: dict[str, np.ndarray], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch of variable-length rows; padding is masked and ignored by the loss."""
    rows = [list(r) for r in batch["input_ids"]]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row, lab) in enumerate(zip(rows, batch["labels"])):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, : len(row)] = torch.tensor(list(lab))
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def sft_loop(config: dict) -> None:
    """One Ray Train worker: DeepSpeed SFT over this worker's shard, then an HF checkpoint from rank 0."""
    import ray.train
    from transformers import AutoModelForCausalLM, AutoTokenizer

    worker_threads(config["cpus_per_worker"])
    tokenizer = AutoTokenizer.from_pretrained(config["init_dir"])
    model = AutoModelForCausalLM.from_pretrained(config["init_dir"], dtype=torch.float32)
    engine = deepspeed_engine(
        model, lr=config["lr"], total_steps=config["total_steps"], warmup_ratio=config["warmup_ratio"],
        micro_batch=config["micro_batch"], grad_accum=1, zero_stage=config["zero_stage"], bf16=config["bf16"],
    )
    shard = ray.train.get_dataset_shard("train")
    step, tokens, start, losses, history = 0, 0, time.perf_counter(), [], []
    for epoch in range(config["epochs"]):
        for batch in shard.iter_batches(batch_size=config["micro_batch"], batch_format="numpy"):
            inputs = pad_batch(batch, tokenizer.pad_token_id)
            loss = engine(**inputs).loss
            engine.backward(loss)
            engine.step()
            step, tokens = step + 1, tokens + int(inputs["attention_mask"].sum())
            losses.append(loss.item())
            if step % config["report_every"] == 0:
                metrics = {"step": step, "epoch": epoch, "loss": sum(losses) / len(losses),
                           "lr": engine.get_lr()[0], "tokens_per_s": tokens / (time.perf_counter() - start)}
                ray.train.report(metrics)
                history.append(metrics)
                if ray.train.get_context().get_world_rank() == 0:  # progress in the driver's log
                    print(f"sft step {step}/{config['total_steps']} loss {metrics['loss']:.3f} "
                          f"{metrics['tokens_per_s']:.0f} tok/s", flush=True)
                losses = []
    save_hf_model(engine, config["out_dir"], config["zero_stage"], tokenizer)
    if ray.train.get_context().get_world_rank() == 0:
        (Path(config["out_dir"]) / "sft_history.json").write_text(json.dumps(history, indent=1))
    finish_worker()
