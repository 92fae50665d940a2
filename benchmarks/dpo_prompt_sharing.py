"""DPO step cost with and without prompt sharing, on the tiny policy's shape and the tiny world's lengths.

Each preference record is one prompt with its winner and `--losers` losers. Without sharing every
completion is a whole sequence (prompt + completion); with sharing the prompt runs once and its
completions run on its cached keys and values. Both variants run back to back in one process, so the
ratio is what to read (the machine is shared and noisy).
    .venv/bin/python benchmarks/dpo_prompt_sharing.py [--policy DIR] [--records 8] [--losers 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_check import preference_records  # noqa: E402
from irpo.dpo.step import PreferenceObjective, preference_logprobs, preference_loss  # noqa: E402


def step_seconds(model, batch: dict, share: bool, steps: int) -> float:
    """Seconds per micro-batch of the policy's forward and backward (`preference_loss`)."""
    objective = PreferenceObjective(beta=0.1, nll_weight=1.0, dpo_weight=1.0, prompts=len(batch["prompt_ids"]),
                                    share_prompt=share)
    start = time.perf_counter()
    for _ in range(steps):
        model.zero_grad()
        preference_loss(model, batch, 0, objective).loss.backward()
    return (time.perf_counter() - start) / steps


def with_reference(model, batch: dict) -> dict:
    with torch.no_grad():
        ref = preference_logprobs(model, batch, 0)
    return batch | {"ref_chosen": ref.chosen.numpy(),
                    "ref_rejected": [ref.rejected[ref.group == g].tolist() for g in range(len(batch["prompt_ids"]))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", help="HF policy directory (default: a random tiny Llama of the base's shape)")
    parser.add_argument("--records", type=int, default=8)
    parser.add_argument("--losers", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=121, help="prompt tokens (tiny world: ~121)")
    parser.add_argument("--completion", type=int, default=24)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    if args.policy:
        model = AutoModelForCausalLM.from_pretrained(args.policy, dtype=torch.float32)
    else:
        from irpo.base.tiny_model import tiny_llama_config
        from irpo.base.tiny_tokenizer import build_tiny_tokenizer

        model = LlamaForCausalLM(tiny_llama_config(build_tiny_tokenizer(), hidden=192, layers=4, heads=4))
    model.train()
    batch = preference_records(args.records, args.prompt, args.completion, model.config.vocab_size)
    batch["rejected_ids"] = [r * args.losers for r in batch["rejected_ids"]]
    batch = with_reference(model, batch)
    tokens = args.records * (1 + args.losers) * (args.prompt + args.completion)
    whole = step_seconds(model, batch, share=False, steps=args.steps)
    shared = step_seconds(model, batch, share=True, steps=args.steps)
    print(f"records {args.records} x (1 winner + {args.losers} losers), prompt {args.prompt} + completion "
          f"{args.completion} tokens; forward + backward of the policy per micro-batch:")
    print(f"  whole sequences: {whole * 1000:.0f} ms ({tokens / whole:.0f} prompt + completion tokens/s)")
    print(f"  prompt shared:   {shared * 1000:.0f} ms ({tokens / shared:.0f} tokens/s), {whole / shared:.2f}x faster")


if __name__ == "__main__":
    main()
