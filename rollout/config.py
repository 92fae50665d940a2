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
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    max_model_len: int | None = Field(None, ge=64, description="None: the model's own limit, at most 4096")
    # On vLLM's CPU backend this is the share of host memory reserved for weights and KV cache.
    memory_fraction: float = Field(0.15, gt=0, le=1)
    enforce_eager: bool = Field(False, description="skip torch.compile: starts ~4x faster, generates slower")


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
