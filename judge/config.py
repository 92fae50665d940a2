"""Judge section: the simulated world and the user who clicks (METHOD.md section 2)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from auction.strict_config import StrictModel
from rollout.config import VLLMConfig


class SimulatedUserConfig(StrictModel):
    """The rule-based user's click model (docs/SIMULATED_USER.md gives the formula).

    relevance r_i = clip(base_rate + query_weight*topic_i + interest_weight*interest_i + keyword_weight*overlap_i)
    p_i = r_i * (native_floor + (1 - native_floor) * nativeness_i) * position_decay**position_i,
    zero for an ad that a more relevant same-category ad in the answer outcompetes, and zero for all
    ads when more than flood_threshold ads are inserted.
    """

    base_rate: float = Field(0.02, ge=0, le=1, description="click rate of an ad that fits nothing")
    query_weight: float = Field(0.5, ge=0, le=1, description="weight of matching the query's topic")
    secondary_topic_weight: float = Field(0.8, ge=0, le=1, description="a second topic counts this much")
    interest_weight: float = Field(0.25, ge=0, le=1, description="weight of matching the user's interests")
    keyword_weight: float = Field(0.15, ge=0, le=1, description="weight of the query naming the ad's words")
    native_floor: float = Field(0.2, ge=0, le=1, description="click factor of an abrupt (non-native) insertion")
    position_decay: float = Field(0.7, gt=0, le=1, description="click factor per earlier ad in the answer")
    flood_threshold: int = Field(3, ge=1, description="more ads than this in one answer: no clicks at all")
    # Encoder worlds map cosine similarity s to [0, 1] linearly between these two points.
    similarity_low: float = Field(0.15, ge=-1, le=1)
    similarity_high: float = Field(0.6, ge=-1, le=1)
    exhaustive_max_candidates: int = Field(12, ge=1, le=16, description="exhaustive optimum up to this many")


class LLMJudgeConfig(StrictModel):
    """The User-LLM: which model plays the user, through which backend, and how hard to retry."""

    backend: Literal["engine", "openai"] = Field("engine", description="a rollout engine, or an HTTP endpoint")
    model: str | None = Field(None, description="HF directory (engine) or model name (openai); None: SmolLM2")
    base_url: str = Field("http://127.0.0.1:8001/v1", description="OpenAI-compatible endpoint (openai backend)")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the endpoint's key")
    temperature: float = Field(0.3, ge=0, description="User-LLM sampling temperature (paper: 0.3)")
    max_tokens: int = Field(256, ge=16)
    max_retries: int = Field(2, ge=0, description="re-asks after output that does not parse")
    timeout_s: float = Field(60.0, gt=0, description="HTTP timeout per request (openai backend)")
    http_attempts: int = Field(3, ge=1, description="tries per HTTP request on timeouts, 429 and 5xx")
    backoff_s: float = Field(1.0, ge=0, description="first wait between HTTP tries; doubles each time")
    concurrency: int = Field(8, ge=1, description="HTTP requests in flight at once (openai backend)")
    constrained_json: bool = Field(True, description="constrain replies to the judgement JSON schema")
    vllm: VLLMConfig = VLLMConfig()


class JudgeConfig(StrictModel):
    kind: Literal["simulated", "llm"] = Field("simulated", description="rule-based user or User-LLM")
    world: str = Field("tiny", description="'tiny', 'paper', or a directory of world JSONL files")
    world_seed: int = Field(0, description="seed of a built-in world's profiles, queries and candidates")
    seed: int = Field(0, description="seed of bid draws and sampled clicks")
    simulated_user: SimulatedUserConfig = SimulatedUserConfig()
    llm: LLMJudgeConfig = LLMJudgeConfig()
