"""The policy deployment: one engine per replica, concurrent requests batched into one generate call.

vLLM where it is installed, the HF engine otherwise (`rollout.factory`). Requests that share sampling
settings share an engine call. Nothing one request holds can take its neighbours down: a prompt the
model's context cannot hold is refused before the engine sees it, and when an engine call raises, its
requests are retried one by one so the error reaches only the request that caused it.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ray import serve

from auction.codec import request_from_json, request_to_json
from auction.types import Ad, AuctionRequest, Candidate, UserProfile
from rollout.ad_policy import AdPolicy
from rollout.config import RolloutConfig, SamplingConfig
from rollout.factory import make_engine
from serving.engine_progress import EngineProgress
from serving.errors import EngineFailed, InvalidRequest, ServingError

log = logging.getLogger(__name__)
PROBE = AuctionRequest("health-probe", UserProfile("health-probe", "", ()), "health check",
                       (Candidate(Ad("Ad-0", "probe"), 1.0),))


@dataclass(frozen=True)
class PolicyReply:
    """One request's answer, or the typed error that stopped it."""

    text: str = ""
    model_id: str = ""
    engine_seconds: float = 0.0
    error: ServingError | None = None


def sampling_seed(seed: int, request: AuctionRequest) -> int:
    """The engine seed of one request: from its own seed and its own content (not its auction ID, new for
    every auction), so the answer does not depend on which other requests share its engine call or on
    when it was sent, and every seed of the documented range gives its own stream (a 63-bit hash, the
    range vLLM's per-request seeds take)."""
    content = request_to_json(replace(request, request_id=""))
    digest = hashlib.sha256(f"{seed}|{content}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class _Pending:
    index: int
    request: AuctionRequest
    sampling: SamplingConfig
    seed: int | None


class PolicyModel:
    def __init__(self, policy_dir: str, rollout_config: dict[str, Any], prompt_style: str):
        self.config = RolloutConfig.model_validate(rollout_config)
        self.policy = AdPolicy(make_engine(policy_dir, self.config), prompt_style, self.config.mask_absent_ads)
        self.model_id = Path(policy_dir).resolve().name if Path(policy_dir).exists() else policy_dir

    def answer(self, items: list[tuple[str, dict | None]]) -> list[PolicyReply]:
        """One reply per (request JSON, sampling overrides), in as few engine calls as possible."""
        replies: list[PolicyReply | None] = [None] * len(items)
        groups: dict[tuple, list[_Pending]] = {}
        for index, (request_json, overrides) in enumerate(items):
            pending = self._pending(index, request_from_json(request_json), overrides)
            problem = self.policy.context_problem(pending.request, pending.sampling.max_tokens)
            if problem:
                replies[index] = PolicyReply(error=InvalidRequest(problem))
                continue
            groups.setdefault(tuple(pending.sampling.model_dump().items()), []).append(pending)
        for group in groups.values():
            for pending, reply in zip(group, self._generate_isolated(group)):
                replies[pending.index] = reply
        return replies  # type: ignore[return-value]

    def _pending(self, index: int, request: AuctionRequest, overrides: dict | None) -> _Pending:
        overrides = dict(overrides or {})
        seed = overrides.pop("seed", None)
        return _Pending(index, request, self.config.sampling.model_copy(update=overrides), seed)

    def _generate_isolated(self, group: list[_Pending]) -> list[PolicyReply]:
        """The group in one engine call; if that raises, each request alone, so only the culprit fails."""
        try:
            return self._generate(group)
        except Exception as err:  # noqa: BLE001 - any engine error must stay with its own request
            if len(group) == 1:
                log.exception("engine failed on request %s", group[0].request.request_id)
                return [PolicyReply(error=EngineFailed(f"engine: failed on this request ({type(err).__name__})"))]
            return [reply for pending in group for reply in self._generate_isolated([pending])]

    def _generate(self, group: list[_Pending]) -> list[PolicyReply]:
        start = time.perf_counter()
        seeds = [sampling_seed(p.seed if p.seed is not None else random.randrange(2**63), p.request) for p in group]
        samples = self.policy.generate([p.request for p in group], 1, group[0].sampling, seeds)
        seconds = time.perf_counter() - start
        return [PolicyReply(per_prompt[0].text, self.model_id, seconds) for per_prompt in samples]

    def probe(self) -> PolicyReply:
        """One token through the engine: what the health checks run."""
        sampling = self.config.sampling.model_copy(update={"max_tokens": 1})
        return self._generate_isolated([_Pending(0, PROBE, sampling, 0)])[0]


# Up to two batches' worth of requests wait at a replica, so a full batch can form while one runs.
@serve.deployment(health_check_period_s=10, health_check_timeout_s=60, max_ongoing_requests=32)
class PolicyDeployment:
    """Ray Serve wrapper: @serve.batch gathers concurrent requests for the engine, one batch at a time.

    Serve calls `check_health` every 10 s. A replica busy with requests passes while its engine turns keep
    ending (`serving.engine_progress`); one whose turn has run longer than `health_timeout_s` fails and is
    replaced; an idle one sends a one-token probe, which runs at once."""

    def __init__(self, policy_dir: str, rollout_config: dict[str, Any], prompt_style: str, health_timeout_s: float,
                 max_batch: int = 16):
        self.model = PolicyModel(policy_dir, rollout_config, prompt_style)
        self.answer_batch.set_max_batch_size(max_batch)
        self.progress, self.health_timeout_s = EngineProgress(), health_timeout_s

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.0)
    async def answer_batch(self, items: list[tuple[str, dict | None]]) -> list[PolicyReply]:
        """Requests and health probes (None) in one engine turn, replies in item order."""
        with self.progress.call():
            return await asyncio.to_thread(self._answer_with_probes, items)

    def _answer_with_probes(self, items: list) -> list[PolicyReply]:
        replies = iter(self.model.answer([item for item in items if item is not None]))
        probe = self.model.probe() if None in items else None
        return [probe if item is None else next(replies) for item in items]

    async def answer(self, request_json: str, sampling: dict | None = None) -> PolicyReply:
        return await self.answer_batch((request_json, sampling))

    async def probe(self) -> PolicyReply:
        """A one-token generation queued with the requests; `engine_seconds` is its whole wait."""
        start = time.perf_counter()
        reply = await self.answer_batch(None)
        return replace(reply, engine_seconds=time.perf_counter() - start)

    async def check_health(self) -> None:
        state = self.progress.state(self.health_timeout_s)
        if state == "stuck":
            raise RuntimeError(f"the engine's turn has run {self.progress.silent_for():.0f} s "
                               f"(more than {self.health_timeout_s:g} s)")
        if state == "idle":
            reply = await self.probe()
            if reply.error:
                raise RuntimeError(f"the engine failed its probe: {reply.error.problems}")
