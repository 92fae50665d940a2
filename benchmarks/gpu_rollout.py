"""Rollout tokens/s on one GPU with the HF engine (the GPU box has no vLLM): tiny policy and SmolLM2-135M.

Run on the GPU box (torch + transformers there; pydantic carried as wheels):
    python3 benchmarks/gpu_rollout.py --tiny DIR --smollm2 DIR --out $OUT/gpu_rollout.json
A model directory without weights (config and tokenizer only) gets random weights of that architecture:
the 98 MB SmolLM2 GGUF cannot travel to the box, and generation cost per token does not depend on the
weights. Random weights rarely emit EOS, so such a model's answers run to max tokens.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rollout_throughput import prompts_for, tokens_per_second  # noqa: E402

from rollout.config import SamplingConfig  # noqa: E402
from rollout.hf_engine import HFEngine  # noqa: E402

SAMPLING = dict(temperature=0.7, top_p=0.8, top_k=20)


def with_weights(model_dir: Path, dtype: torch.dtype) -> Path:
    """The directory itself if it holds weights, else a copy with random weights of its architecture."""
    if any(model_dir.glob("*.safetensors")):
        return model_dir
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out = Path(tempfile.mkdtemp()) / model_dir.name
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir), dtype=dtype).save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def measure(model_dir: Path, world: str, dtype: str, shapes: list[tuple[int, int]], max_tokens: int,
            device: str) -> list[dict]:
    engine = HFEngine(with_weights(model_dir, getattr(torch, dtype)), dtype=dtype, device=device)
    cuda = device.startswith("cuda")
    sampling = SamplingConfig(max_tokens=max_tokens, **SAMPLING)
    rows = []
    for count, n in shapes:
        prompts = prompts_for(engine, world, count)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        rate, tokens = tokens_per_second(engine, prompts, n, sampling)
        rows.append({"model": model_dir.name, "dtype": dtype, "prompts": len(prompts), "n": n, "max_tokens": max_tokens,
                     "tokens": tokens, "tokens_per_s": round(rate), "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", type=Path, help="tiny policy directory")
    parser.add_argument("--smollm2", type=Path, help="SmolLM2 directory (weights optional)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--shapes", default="64x4,128x8,256x8", help="prompts x samples, comma-separated")
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke test")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    rows: list[dict] = [{"device": name, "torch": torch.__version__}]
    shapes = [tuple(int(x) for x in shape.split("x")) for shape in args.shapes.split(",")]
    if args.tiny:
        rows += measure(args.tiny, "tiny", "float32", shapes, args.max_tokens, args.device)
        rows += measure(args.tiny, "tiny", "bfloat16", shapes, args.max_tokens, args.device)
    if args.smollm2:
        rows += measure(args.smollm2, "paper", "bfloat16", shapes, args.max_tokens, args.device)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
