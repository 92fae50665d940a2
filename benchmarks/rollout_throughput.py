"""Generated tokens per second: the vLLM engine vs the HF engine, same model, prompts and sampling.
(Not named rollout.py: run as a script, that file would shadow the `rollout` package.)

Run: .venv/bin/python benchmarks/rollout_throughput.py --tiny DIR [--smollm2 DIR] [--prompts 64] [--n 4] [--dtype D]
Each engine gets one warm-up call, then the timed call; the ratio is measured in the same process.
Prompts: the tiny world's auction prompts (tiny policy) or the full-style prompts of the paper world.
"""
from __future__ import annotations

import argparse
import gc
import time

from judge.bids import draw_bids
from judge.environment import build_world
from rollout.config import SamplingConfig, VLLMConfig
from rollout.hf_engine import HFEngine
from rollout.prompt import ad_llm_messages


def prompts_for(engine, world_name: str, count: int) -> list[str]:
    world = build_world(world_name, 0)
    queries = world.split("test")[:count]
    style = "tiny" if world_name == "tiny" else "full"
    return [engine.chat_prompt(ad_llm_messages(world.request(q, draw_bids(0, "test", 0, q.query_id,
                                                                          world.candidate_ids(q))), style))
            for q in queries]


def tokens_per_second(engine, prompts: list[str], n: int, sampling: SamplingConfig) -> tuple[float, int]:
    engine.generate(prompts[:2], n, sampling, seed=0)  # warm-up
    start = time.perf_counter()
    outputs = engine.generate(prompts, n, sampling, seed=1)
    seconds = time.perf_counter() - start
    tokens = sum(len(s.token_ids) for samples in outputs for s in samples)
    return tokens / seconds, tokens


def compare(model_dir: str, world: str, count: int, n: int, max_tokens: int, dtype: str) -> str:
    sampling = SamplingConfig(temperature=0.7, top_p=0.8, top_k=20, max_tokens=max_tokens)
    hf = HFEngine(model_dir, dtype=dtype)
    prompts = prompts_for(hf, world, count)
    hf_rate, hf_tokens = tokens_per_second(hf, prompts, n, sampling)
    del hf
    gc.collect()
    from rollout.vllm_engine import VLLMEngine  # here, so GPU boxes without vLLM can import this module

    vllm = VLLMEngine(model_dir, VLLMConfig(dtype=dtype))
    vllm_rate, vllm_tokens = tokens_per_second(vllm, prompts, n, sampling)
    return (f"| {model_dir.rstrip('/').split('/')[-1]} | {world} | {count} x {n} | {max_tokens} | {hf_rate:,.0f} "
            f"({hf_tokens}) | {vllm_rate:,.0f} ({vllm_tokens}) | {vllm_rate / hf_rate:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", help="tiny policy directory")
    parser.add_argument("--smollm2", help="SmolLM2 HF directory")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--dtype", default="float32", help="the tiny policy's dtype in both engines "
                        "(rollout.vllm.dtype defaults to bfloat16)")
    args = parser.parse_args()
    print("| model | prompts | prompts x samples | max tokens | HF tokens/s (tokens) | vLLM tokens/s (tokens) | vLLM / HF |")
    print("|---|---|---|---|---|---|---|")
    if args.tiny:
        print(compare(args.tiny, "tiny", args.prompts, args.n, args.max_tokens, args.dtype), flush=True)
    if args.smollm2:
        print(compare(args.smollm2, "paper", args.prompts // 2, args.n // 2, args.max_tokens, "bfloat16"), flush=True)


if __name__ == "__main__":
    main()
