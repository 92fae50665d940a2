"""GPU check: the project's own DPO and pCTR training steps, bf16, on random-init Qwen3 shapes.

Run on one H100/H200 (torch + transformers there; DeepSpeed and its small deps carried as wheels):
    python3 benchmarks/gpu_check.py --sizes 0.6b,4b --out $OUT/gpu_check.json
On a CPU it runs the same code at `--sizes tiny` (a smoke test, no figures worth keeping).
Tokens per DPO step = pairs x 2 sequences x seq_len. MFU counts 8N FLOPs per token (policy forward and
backward 6N, reference forward 2N; N = all parameters; attention and recompute not counted) against
989 TFLOP/s dense bf16, the H100/H200 peak -- the accounting of the ENV.md anchors.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from irpo.dpo.loss import completion_logprobs, dpo_loss  # noqa: E402
from irpo.reward.model import PCTRModel, click_loss  # noqa: E402

PEAK_FLOPS = 989e12
SHAPES = {  # Qwen3 shapes: hidden, layers, heads, kv heads, intermediate
    "tiny": (64, 2, 4, 2, 128),
    "0.6b": (1024, 28, 16, 8, 3072),
    "4b": (2560, 36, 32, 8, 9728),
}


def qwen3(size: str, device: str):
    from transformers import AutoModelForCausalLM, Qwen3Config

    hidden, layers, heads, kv, inter = SHAPES[size]
    config = Qwen3Config(vocab_size=151936 if size != "tiny" else 1000, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv, intermediate_size=inter, head_dim=128 if size != "tiny" else 16,
                         tie_word_embeddings=size != "4b", max_position_embeddings=4096)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    return model


def pair_batch(pairs: int, seq: int, completion: int, vocab: int, device: str):
    ids = torch.randint(0, vocab, (2 * pairs, seq), device=device)
    mask = torch.ones_like(ids)
    completion_mask = torch.zeros_like(ids)
    completion_mask[:, -completion:] = 1
    return ids, mask, completion_mask


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def dpo_step_fn(model, step, batch, pairs: int):
    ids, mask, completion_mask = batch
    with torch.no_grad():
        ref = completion_logprobs(model, ids, mask, completion_mask)
    policy = completion_logprobs(model, ids, mask, completion_mask)
    stats = dpo_loss(policy[:pairs], policy[pairs:], ref[:pairs], ref[pairs:], torch.ones(pairs, device=ids.device), 0.1)
    step(stats.loss)


def timed(fn, steps: int, device: str) -> float:
    for _ in range(2):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / steps


def dpo_check(size: str, mode: str, pairs: int, seq: int, completion: int, steps: int, device: str,
              checkpointing: bool) -> dict:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = qwen3(size, device)
    if checkpointing:
        model.gradient_checkpointing_enable()
    n_params = sum(p.numel() for p in model.parameters())
    batch = pair_batch(pairs, seq, completion, model.config.vocab_size, device)
    if mode == "torch":
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

        def step(loss):
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        runner = model
    else:
        from irpo.ds_train import OptimizerPlan, deepspeed_engine

        runner = deepspeed_engine(model, OptimizerPlan(lr=1e-6, total_steps=100, warmup_ratio=0.1,
                                                       micro_batch=2 * pairs, zero_stage=2, precision="bf16"))

        def step(loss):
            runner.backward(loss)
            runner.step()
    seconds = timed(lambda: dpo_step_fn(runner.module if mode == "deepspeed" else runner, step, batch, pairs), steps, device)
    tokens = 2 * pairs * seq
    result = {"check": "dpo_step", "size": size, "mode": mode, "params": n_params, "pairs": pairs, "seq_len": seq,
              "completion_tokens": completion, "gradient_checkpointing": checkpointing, "seconds_per_step": seconds,
              "tokens_per_s": tokens / seconds, "mfu": 8 * n_params * tokens / seconds / PEAK_FLOPS,
              "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None}
    del model, runner, batch
    return result


def reward_model_check(steps: int, device: str, batch: int = 256, text_dim: int = 1024) -> dict:
    model = PCTRModel(text_dim, n_users=3000, n_ads=100).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    query, response = torch.randn(batch, text_dim, device=device), torch.randn(batch, text_dim, device=device)
    users, ads = torch.randint(1, 3001, (batch,), device=device), torch.randint(1, 101, (batch,), device=device)
    clicked = torch.randint(0, 2, (batch,), device=device)

    def step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            loss = click_loss(model(query, response, users, ads), clicked)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = timed(step, steps, device)
    return {"check": "reward_model_step", "batch": batch, "text_dim": text_dim, "seconds_per_step": seconds,
            "samples_per_s": batch / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="0.6b")
    parser.add_argument("--modes", default="torch,deepspeed")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--completion", type=int, default=128)
    parser.add_argument("--out", default=None)
    parser.add_argument("--pairs-4b", type=int, default=4)
    parser.add_argument("--checkpointing", choices=["auto", "on", "off"], default="auto", help="auto: on for 4b")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29511", "TORCH_CUDA_ARCH_LIST": "9.0"}.items():
        os.environ.setdefault(key, value)
    print(json.dumps({"device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                      "torch": torch.__version__}), flush=True)
    results = [reward_model_check(args.steps * 20, device)]
    print(json.dumps(results[-1]), flush=True)
    for size in args.sizes.split(","):
        pairs = args.pairs_4b if size == "4b" else 8
        checkpointing = args.checkpointing == "on" or (args.checkpointing == "auto" and size == "4b")
        for mode in args.modes.split(","):
            try:
                results.append(dpo_check(size, mode, pairs, args.seq if size != "tiny" else 64,
                                         args.completion if size != "tiny" else 16, args.steps, device, checkpointing))
            except Exception as err:  # one failing check must not hide the others' figures
                results.append({"check": "dpo_step", "size": size, "mode": mode, "error": f"{type(err).__name__}: {err}"})
            print(json.dumps(results[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
