"""Device check: the project's own training steps and generation on one device, with timings and peak memory.

It calls the functions the Ray Train loops call (not copies): `sft_step_loss` (SFT), `click_step_loss`
(pCTR) and `preference_loss` (DPO: preference records with decoding rules -> `group_tensors` ->
masked `completion_logprobs` -> `dpo_loss` with the NLL term), the reference log-probs the way the
reference actor takes them (`preference_logprobs`), and one HF-engine generation of the tiny policy
under the mention rules (`AdPolicy`). Every check runs; the script exits 1 if any failed.

On one H100/H200 (torch + transformers there; DeepSpeed and its small deps carried as wheels):
    python3 benchmarks/gpu_check.py --device cuda --sizes 0.6b,4b --out $OUT/gpu_check.json
On a CPU (the test suite runs this, so the script cannot drift from the loops):
    python3 benchmarks/gpu_check.py --device cpu
DPO tokens per step = records x (winner + loser) x seq_len. MFU counts 8N FLOPs per token (policy
forward and backward 6N, reference forward 2N; attention and recompute not counted) against 989 TFLOP/s
dense bf16, the H100/H200 peak.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from irpo.base.sft import micro_batch_record, sft_step_loss  # noqa: E402
from irpo.dpo.step import PreferenceObjective, preference_logprobs, preference_loss  # noqa: E402
from irpo.reward.model import PCTRModel  # noqa: E402
from irpo.reward.trainer import click_step_loss  # noqa: E402

PEAK_FLOPS = 989e12
SHAPES = {  # Qwen3 shapes: hidden, layers, heads, kv heads, intermediate, vocab
    "tiny": (64, 2, 4, 2, 128, 1000),
    "0.6b": (1024, 28, 16, 8, 3072, 151936),
    "4b": (2560, 36, 32, 8, 9728, 151936),
}


def qwen3(size: str, device: str, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, Qwen3Config

    hidden, layers, heads, kv, inter, vocab = SHAPES[size]
    config = Qwen3Config(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv, intermediate_size=inter, head_dim=hidden // heads if size == "tiny"
                         else 128, tie_word_embeddings=size != "4b", max_position_embeddings=4096)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None


def timed(fn, steps: int, device: str) -> float:
    fn()  # warm-up (allocations, kernels)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / steps


def preference_records(records: int, prompt: int, completion: int, vocab: int, seed: int = 0) -> dict:
    """Random preference records in the loop's format: one winner and one loser per prompt, each with a
    banned list and once-tokens (the decoding rules), as the pairs stage writes them."""
    rng = np.random.default_rng(seed)
    tokens = lambda n: rng.integers(5, vocab, n).tolist()  # noqa: E731
    return {"prompt_ids": [tokens(prompt) for _ in range(records)],
            "chosen_ids": [tokens(completion) for _ in range(records)],
            "rejected_ids": [[tokens(completion - 1)] for _ in range(records)],
            "banned": [tokens(8) for _ in range(records)], "once": [tokens(4) for _ in range(records)]}


def optimizer_step(model, mode: str, micro_batch: int):
    """`step(loss)`: backward and update, with torch AdamW or a DeepSpeed ZeRO-2 bf16 engine."""
    if mode == "torch":
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

        def step(loss):
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return model, step
    from irpo.ds_train import OptimizerPlan, deepspeed_engine

    engine = deepspeed_engine(model, OptimizerPlan(lr=1e-6, total_steps=100, warmup_ratio=0.1, micro_batch=micro_batch,
                                                   zero_stage=2, precision="bf16"))

    def step(loss):
        engine.backward(loss)
        engine.step()
    return engine.module, step


def dpo_check(size: str, mode: str, records: int, seq: int, completion: int, steps: int, device: str,
              checkpointing: bool) -> dict:
    """DPO steps through `preference_loss`; the first step's DPO term must be log 2 (policy = reference)."""
    reset_peak(device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = qwen3(size, device, dtype)
    if checkpointing:
        model.gradient_checkpointing_enable()
    batch = preference_records(records, seq - completion, completion, model.config.vocab_size)
    with torch.no_grad():  # the reference actor's way, same precision as the policy
        ref = preference_logprobs(model, batch, pad_id=0)
    batch |= {"ref_chosen": ref.chosen.float().cpu().numpy(),
              "ref_rejected": [[x] for x in ref.rejected.float().cpu().tolist()]}
    objective = PreferenceObjective(beta=0.1, nll_weight=1.0, dpo_weight=1.0, prompts=records)
    first = preference_loss(model, batch, 0, objective)
    first_dpo = first.dpo.item()
    del first
    module, step = optimizer_step(model, mode, records)
    seconds = timed(lambda: step(preference_loss(module, batch, 0, objective).loss), steps, device)
    params = sum(p.numel() for p in model.parameters())
    tokens = 2 * records * seq
    result = {"check": "dpo_step", "size": size, "mode": mode, "params": params, "records": records, "seq_len": seq,
              "completion_tokens": completion, "gradient_checkpointing": checkpointing, "first_dpo_loss": first_dpo,
              "seconds_per_step": seconds, "tokens_per_s": tokens / seconds,
              "mfu": 8 * params * tokens / seconds / PEAK_FLOPS if device == "cuda" else None,
              "peak_gib": peak_gib(device)}
    if abs(first_dpo - np.log(2)) > 1e-3:
        raise AssertionError(f"first DPO loss {first_dpo:.6f} is not log 2: policy and reference disagree ({result})")
    return result


def sft_check(steps: int, device: str) -> dict:
    """SFT steps through `sft_step_loss` on micro-batch records of the loop's format, tiny Qwen3 shape."""
    reset_peak(device)
    model = qwen3("tiny", device, torch.float32)
    rng = np.random.default_rng(0)
    rows = [{"input_ids": rng.integers(5, 1000, n), "labels": np.r_[np.full(n // 2, -100), rng.integers(5, 1000, n - n // 2)]}
            for n in (64, 48, 32, 60)]
    record = micro_batch_record(rows)
    _, step = optimizer_step(model, "torch", len(rows))
    seconds = timed(lambda: step(sft_step_loss(model, record, pad_id=0)[0]), steps, device)
    return {"check": "sft_step", "rows": len(rows), "seconds_per_step": seconds, "peak_gib": peak_gib(device)}


def reward_model_check(steps: int, device: str, batch: int = 256, text_dim: int = 1024) -> dict:
    """pCTR steps through `click_step_loss` (ID dropout drawn on the device) under bf16 autocast."""
    reset_peak(device)
    model = PCTRModel(text_dim, n_users=3000, n_ads=100).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = {"text": torch.randn(batch, 2 * text_dim, device=device), "user": torch.randint(1, 3001, (batch,), device=device),
            "ad": torch.randint(1, 101, (batch,), device=device), "position": torch.randint(0, 3, (batch,), device=device),
            "count": torch.randint(1, 4, (batch,), device=device), "clicked": torch.randint(0, 2, (batch,), device=device)}

    def step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = click_step_loss(model, rows, text_dim)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = timed(step, steps, device)
    return {"check": "reward_model_step", "batch": batch, "text_dim": text_dim, "seconds_per_step": seconds,
            "samples_per_s": batch / seconds, "peak_gib": peak_gib(device)}


def generation_check(device: str) -> dict:
    """One HF-engine generation of a random-init tiny policy under the mention rules, on `device`: every
    answer must parse with no format error (the rules make a malformed mention impossible)."""
    from auction.parser import parse_request_answer
    from irpo.base.tiny_model import init_tiny_policy
    from judge.bids import draw_bids
    from judge.environment import get_world
    from rollout.ad_policy import AdPolicy
    from rollout.config import SamplingConfig
    from rollout.hf_engine import HFEngine

    world = get_world("tiny")
    queries = world.split("test")[:4]
    requests = [world.request(q, draw_bids(0, "test", 0, q.query_id, world.candidate_ids(q))) for q in queries]
    with tempfile.TemporaryDirectory() as tmp:
        engine = HFEngine(init_tiny_policy(Path(tmp) / "policy", hidden=64, layers=2, heads=2), device=device)
        policy = AdPolicy(engine, "tiny")
        sampling = SamplingConfig(temperature=1.0, top_p=1.0, top_k=-1, max_tokens=48)
        start = time.perf_counter()
        outputs = policy.generate(requests, 2, sampling, seed=0)
        seconds = time.perf_counter() - start
    answers = [parse_request_answer(s.text, r) for r, samples in zip(requests, outputs) for s in samples]
    errors = [a.errors for a in answers if a.errors]
    if errors:
        raise AssertionError(f"masked generation wrote malformed mentions: {errors[:3]}")
    return {"check": "hf_generation", "answers": len(answers), "mentions": sum(len(a.inserted) for a in answers),
            "tokens": sum(len(s.token_ids) for samples in outputs for s in samples), "seconds": seconds}


def run_check(name: str, fn) -> dict:
    """One check's result, or its error (one failing check must not hide the others' figures)."""
    try:
        result = fn()
    except Exception as err:
        traceback.print_exc()
        result = {"check": name, "error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", default=None, help="DPO model sizes (default: tiny on cpu, 0.6b on cuda)")
    parser.add_argument("--modes", default=None, help="torch,deepspeed (default: torch on cpu, both on cuda)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 2 on cpu, 5 on cuda)")
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--completion", type=int, default=128)
    parser.add_argument("--records", type=int, default=8, help="DPO records (winner + loser each) per step")
    parser.add_argument("--records-4b", type=int, default=4)
    parser.add_argument("--checkpointing", choices=["auto", "on", "off"], default="auto", help="auto: on for 4b")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device, cpu = args.device, args.device == "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device visible")
    sizes = (args.sizes or ("tiny" if cpu else "0.6b")).split(",")
    modes = (args.modes or ("torch" if cpu else "torch,deepspeed")).split(",")
    steps = args.steps or (2 if cpu else 5)
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29511", "TORCH_CUDA_ARCH_LIST": "9.0"}.items():
        os.environ.setdefault(key, value)
    print(json.dumps({"device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                      "torch": torch.__version__}), flush=True)
    results = [run_check("reward_model_step", lambda: reward_model_check(steps * 20, device)),
               run_check("sft_step", lambda: sft_check(steps, device)),
               run_check("hf_generation", lambda: generation_check(device))]
    for size in sizes:
        records = args.records_4b if size == "4b" else args.records
        checkpointing = args.checkpointing == "on" or (args.checkpointing == "auto" and size == "4b")
        seq, completion = (64, 16) if size == "tiny" else (args.seq, args.completion)
        for mode in modes:
            results.append(run_check(f"dpo_step {size} {mode}", lambda: dpo_check(
                size, mode, records, seq, completion, steps, device, checkpointing)))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    failed = [r["check"] for r in results if "error" in r]
    print(json.dumps({"checks": len(results), "failed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
