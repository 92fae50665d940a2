"""Build the configured engine for a model directory."""
from __future__ import annotations

from pathlib import Path

from rollout.config import RolloutConfig
from rollout.engine import Engine


def make_engine(model_dir: str | Path, config: RolloutConfig, tensor_parallel_size: int = 1) -> Engine:
    if config.engine == "vllm":
        from rollout.vllm_engine import VLLMEngine

        return VLLMEngine(model_dir, config.vllm, tensor_parallel_size)
    from rollout.hf_engine import HFEngine

    return HFEngine(model_dir, dtype="float32" if config.vllm.dtype in ("auto", "float32") else config.vllm.dtype)
