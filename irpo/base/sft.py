"""Supervised fine-tuning on chats, under Ray Train with DeepSpeed: loss on the assistant's answers only.

`sft_policy` is the driver side: tokenize, cut token-budget micro-batches, hand them to Ray Train as
a Ray Dataset (one record per micro-batch); `sft_loop` is one worker's loop.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cluster.layout import TrainerRole
from irpo.base.sft_corpus import Example
from irpo.config import SFTConfig
from irpo.ds_train import (
    OptimizerPlan,
    WorkerSetup,
    bf16_supported,
    deepspeed_engine,
    finish_worker,
    report_progress,
    run_ray_train,
    save_hf_model,
    worker_threads,
)

log = logging.getLogger(__name__)
IGNORE = -100


def tokenize_example(example: Example, tokenizer) -> dict[str, list[int]]:
    """Token ids of the whole chat; labels on every assistant answer (and its end token) only."""
    messages = list(example.messages)
    ids: list[int] = []
    labels: list[int] = []
    done = ""  # the chat's text so far, through the last answer's end token
    for question, answer in [(None, example.answer), *example.followups]:
        if question is not None:
            messages.append({"role": "user", "content": question})
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        assert text.startswith(done), "the chat template must render a chat's turns as a prefix of the next"
        prompt_ids = tokenizer(text[len(done):], add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        ids += prompt_ids + answer_ids
        labels += [IGNORE] * len(prompt_ids) + answer_ids
        messages.append({"role": "assistant", "content": answer})
        done = text + answer + tokenizer.eos_token
    return {"input_ids": ids, "labels": labels}


def tokenize_examples(examples: Iterable[Example], tokenizer) -> list[dict[str, list[int]]]:
    return [tokenize_example(e, tokenizer) for e in examples]


def token_budget_batches(rows: list[dict], max_tokens: int, seed: int) -> list[list[dict]]:
    """Micro-batches of similar-length rows, each at most `max_tokens` once padded, in random order.

    A step's fixed cost (optimizer, all-reduce, data handling) is paid per micro-batch, so a batch
    holds as many rows as its padded size allows: many short chats, a few long ones.
    """
    import random

    batches, current, width = [], [], 0
    for row in sorted(rows, key=lambda r: len(r["input_ids"])):
        width = max(width, len(row["input_ids"]))
        if current and width * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, width = [], len(row["input_ids"])
        current.append(row)
    if current:
        batches.append(current)
    random.Random(seed).shuffle(batches)
    return batches


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


def sft_step_loss(model, record: dict[str, np.ndarray], pad_id: int) -> tuple[torch.Tensor, int]:
    """One micro-batch (a `micro_batch_record`) on the model's device: the mean token loss on the
    assistant's answers, and the batch's real (unpadded) tokens."""
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in pad_batch(unpack_micro_batch(record), pad_id).items()}
    return model(**inputs).loss, int(inputs["attention_mask"].sum())


def micro_batch_record(rows: list[dict]) -> dict[str, np.ndarray]:
    """One micro-batch as one dataset record: its rows' ids and labels end to end, and their lengths."""
    return {"input_ids": np.concatenate([r["input_ids"] for r in rows]).astype(np.int32),
            "labels": np.concatenate([r["labels"] for r in rows]).astype(np.int32),
            "lengths": np.array([len(r["input_ids"]) for r in rows], dtype=np.int32)}


def unpack_micro_batch(record: dict[str, np.ndarray]) -> dict[str, list]:
    bounds = np.cumsum(record["lengths"])[:-1]
    return {"input_ids": np.split(record["input_ids"], bounds), "labels": np.split(record["labels"], bounds)}


@dataclass(frozen=True)
class SFTLoopConfig:
    setup: WorkerSetup
    init_dir: str  # the HF policy fine-tuned
    workers: int  # to report the tokens per second of all workers
    report_every: int  # steps between progress lines


def sft_loop(ray_config: dict) -> None:
    """One Ray Train worker: DeepSpeed SFT over this worker's shard of micro-batches, then an HF
    checkpoint from rank 0. Each dataset record is a whole micro-batch (`micro_batch_record`)."""
    import ray.train.torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config: SFTLoopConfig = ray_config["loop"]
    setup, total_steps = config.setup, config.setup.optimizer.total_steps
    worker_threads(setup.cpus_per_worker)
    tokenizer = AutoTokenizer.from_pretrained(config.init_dir)
    model = AutoModelForCausalLM.from_pretrained(config.init_dir, dtype=torch.float32)
    engine = deepspeed_engine(model.to(ray.train.torch.get_device()), setup.optimizer)
    shard = ray.train.get_dataset_shard("train")
    step, tokens, start, losses, history = 0, 0, time.perf_counter(), [], []
    rank0 = ray.train.get_context().get_world_rank() == 0
    for record in shard.iter_rows():
        loss, batch_tokens = sft_step_loss(engine, record, tokenizer.pad_token_id)
        engine.backward(loss)
        engine.step()
        step, tokens = step + 1, tokens + batch_tokens
        losses.append(loss.item())
        if step % config.report_every == 0 or step == total_steps:
            seconds = time.perf_counter() - start
            metrics = {"step": step, "loss": sum(losses) / len(losses), "lr": engine.get_lr()[0],
                       "tokens_per_s": tokens * config.workers / seconds}
            ray.train.report(metrics)
            history.append(metrics)
            if rank0:
                eta = seconds / step * (total_steps - step)
                report_progress(setup, f"SFT step {step}/{total_steps}: loss {metrics['loss']:.3f}, "
                                        f"{metrics['tokens_per_s']:.0f} tokens/s, ETA {eta:.0f} s")
            losses = []
    save_hf_model(engine, setup.out_dir, setup.optimizer.zero_stage, tokenizer)
    if rank0:
        (Path(setup.out_dir) / "sft_history.json").write_text(json.dumps(history, indent=1))
    finish_worker()


def sft_policy(init_dir: Path, examples: Iterable[Example], config: SFTConfig, role: TrainerRole, out: Path) -> Path:
    """Fine-tune the HF policy in `init_dir` on `examples` into `out`, under Ray Train + DeepSpeed."""
    import ray.data
    from transformers import AutoTokenizer

    out = Path(out).resolve()
    work = out.parent / f".{out.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()
    rows = tokenize_examples(examples, AutoTokenizer.from_pretrained(init_dir))
    budget = max(1, config.batch_tokens // role.workers)
    batches = [b for epoch in range(config.epochs) for b in token_budget_batches(rows, budget, config.seed + epoch)]
    batches = batches[: len(batches) - len(batches) % role.workers] or batches  # every worker takes every step
    steps = len(batches) // role.workers
    log.info("SFT corpus: %d chats, %d tokens, %d steps of <= %d tokens per worker, built in %.1fs", len(rows),
             sum(len(r["input_ids"]) for r in rows), steps, budget, time.perf_counter() - start)
    plan = OptimizerPlan(lr=config.lr, total_steps=steps, warmup_ratio=config.warmup_ratio,
                         zero_stage=role.zero_stage,
                         precision="bf16_autocast" if config.bf16 and bf16_supported(role) else "fp32")
    loop_config = SFTLoopConfig(WorkerSetup(str(work / "final"), role.cpus, plan), str(Path(init_dir).resolve()),
                                role.workers, max(1, steps // 20))
    dataset = ray.data.from_items([micro_batch_record(b) for b in batches])
    run_ray_train(sft_loop, loop_config, role, {"train": dataset}, work / "ray_train", "sft")
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(work / "final"), out)
    shutil.rmtree(work, ignore_errors=True)
    log.info("policy written to %s in %.1fs (%d steps)", out, time.perf_counter() - start, steps)
    return out
