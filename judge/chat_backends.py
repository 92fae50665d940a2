"""Where the User-LLM runs: a rollout engine in this process, or an OpenAI-compatible HTTP endpoint.

A backend answers a batch of chats with one text each, or None where a chat could not be answered
(an HTTP request that failed every try): the judge counts that as a failed attempt, never a crash.
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx

from judge.config import LLMJudgeConfig
from rollout.config import SamplingConfig
from rollout.engine import Engine

log = logging.getLogger(__name__)
Chat = list[dict[str, str]]


class ChatBackend(Protocol):
    def complete(self, chats: list[Chat], seed: int, json_schemas: list[dict] | None = None) -> list[str | None]:
        """One reply per chat (None: no reply); a schema per chat asks for JSON matching it."""
        ...


class EngineChatBackend:
    """Chats rendered with the engine's chat template, generated in one batch."""

    def __init__(self, engine: Engine, config: LLMJudgeConfig):
        self.engine = engine
        self.sampling = SamplingConfig(temperature=config.temperature, top_p=1.0, top_k=-1, max_tokens=config.max_tokens)

    def complete(self, chats: list[Chat], seed: int, json_schemas: list[dict] | None = None) -> list[str | None]:
        prompts = [self.engine.chat_prompt(chat) for chat in chats]
        outputs = self.engine.generate(prompts, 1, self.sampling, seed, json_schemas)
        return [samples[0].text for samples in outputs]


RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIChatBackend:
    """POST /chat/completions with a timeout, exponential backoff on retryable failures, and at most
    `concurrency` requests in flight."""

    def __init__(self, config: LLMJudgeConfig, model: str):
        self.config, self.model = config, model
        key = os.environ.get(config.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout_s)
        self.pool = ThreadPoolExecutor(max_workers=config.concurrency)

    def complete(self, chats: list[Chat], seed: int, json_schemas: list[dict] | None = None) -> list[str | None]:
        schemas = json_schemas or [None] * len(chats)
        return list(self.pool.map(lambda pair: self._one(pair[0], seed, pair[1]), zip(chats, schemas)))

    def _one(self, chat: Chat, seed: int, schema: dict | None) -> str | None:
        body = {"model": self.model, "messages": chat, "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens, "seed": seed}
        if schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        wait = self.config.backoff_s
        for attempt in range(1, self.config.http_attempts + 1):
            try:
                response = self.client.post("/chat/completions", json=body)
                if response.status_code == 200:
                    return response.json()["choices"][0]["message"]["content"]
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRYABLE_STATUS:
                    log.warning("judge endpoint refused a request (%s): %s", problem, response.text[:200])
                    return None
            except (httpx.TimeoutException, httpx.TransportError, KeyError, IndexError, ValueError) as err:
                problem = f"{type(err).__name__}: {err}"
            log.warning("judge endpoint try %d/%d failed: %s", attempt, self.config.http_attempts, problem)
            if attempt < self.config.http_attempts:
                time.sleep(wait)
                wait *= 2
        return None

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()
