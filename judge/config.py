"""Judge section: the simulated world and the user who clicks (METHOD.md section 2)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from auction.strict_config import StrictModel


class JudgeConfig(StrictModel):
    kind: Literal["simulated", "llm"] = Field("simulated", description="rule-based user or User-LLM")
    world: str = Field("tiny", description="'tiny', 'paper', or a directory of world JSONL files")
    temperature: float = Field(0.3, ge=0, description="User-LLM sampling temperature")
    max_retries: int = Field(2, ge=0, description="re-asks of the User-LLM after unparseable output")
    seed: int = 0
