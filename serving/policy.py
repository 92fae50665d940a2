"""The policy deployment: one engine per replica, concurrent requests batched into one generate call.

vLLM where it is installed, the HF engine otherwise (`rollout.engine`). Requests that share sampling
settings share an engine call; a request with its own seed gets a call of its own, so its answer does
not depend on what else was in the batch.
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from ray import serve

from auction.codec import request_from_json
from rollout.config import RolloutConfig, SamplingConfig
from rollout.factory import make_engine
from rollout.mention_mask import mention_rules
from rollout.prompt import ad_llm_messages


class PolicyModel:
    def __init__(self, policy_dir: str, rollout_config: dict[str, Any], prompt_style: str):
        self.config = RolloutConfig.model_validate(rollout_config)
        self.engine = make_engine(policy_dir, self.config)
        self.style = prompt_style
        self.model_id = Path(policy_dir).resolve().name if Path(policy_dir).exists() else policy_dir

    def prompt(self, request_json: str) -> str:
        return self.engine.chat_prompt(ad_llm_messages(request_from_json(request_json), self.style))

    def answer(self, requests: list[tuple[str, dict | None]]) -> list[dict]:
        """One answer per (request JSON, sampling overrides); grouped into as few engine calls as possible."""
        groups: dict[tuple, list[int]] = {}
        settings = []
        for i, (_, overrides) in enumerate(requests):
            overrides = dict(overrides or {})
            seed = overrides.pop("seed", None)
            sampling = self.config.sampling.model_copy(update=overrides)
            settings.append(sampling)
            key = (tuple(sampling.model_dump().items()), seed if seed is not None else "unseeded")
            groups.setdefault(key, []).append(i)
        results: list[dict] = [{} for _ in requests]
        for (_, seed), rows in groups.items():
            start = time.perf_counter()
            parsed = [request_from_json(requests[i][0]) for i in rows]
            prompts = [self.engine.chat_prompt(ad_llm_messages(r, self.style)) for r in parsed]
            rules = mention_rules(self.engine, parsed, self.config.mask_absent_ads)
            fixed = seed if isinstance(seed, int) else random.randrange(2**31)
            samples = self.engine.generate(prompts, 1, settings[rows[0]], fixed, token_rules=rules)
            seconds = time.perf_counter() - start
            for i, per_prompt in zip(rows, samples):
                results[i] = {"text": per_prompt[0].text, "engine_seconds": seconds, "model_id": self.model_id}
        return results


@serve.deployment
class PolicyDeployment:
    """Ray Serve wrapper: @serve.batch gathers concurrent requests for the engine."""

    def __init__(self, policy_dir: str, rollout_config: dict[str, Any], prompt_style: str, max_batch: int = 16):
        self.model = PolicyModel(policy_dir, rollout_config, prompt_style)
        self.answer_batch.set_max_batch_size(max_batch)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
    async def answer_batch(self, items: list[tuple[str, dict | None]]) -> list[dict]:
        import asyncio

        return await asyncio.to_thread(self.model.answer, items)

    async def answer(self, request_json: str, sampling: dict | None = None) -> dict:
        return await self.answer_batch((request_json, sampling))

    def model_id(self) -> str:
        return self.model.model_id
