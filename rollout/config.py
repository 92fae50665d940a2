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


class RolloutConfig(StrictModel):
    engine: Literal["vllm", "hf"] = "vllm"
    policy: str | None = Field(None, description="HF directory of the policy; None: the tiny base policy")
    sampling: SamplingConfig = SamplingConfig()
    seed: int = 0
