"""The one interface every generation engine implements, and what it returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rollout.config import SamplingConfig


@dataclass(frozen=True)
class TokenRules:
    """Decoding rules for one prompt: tokens never sampled, and tokens sampled at most once each."""

    banned: tuple[int, ...] = ()
    once: tuple[int, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One sampled completion: its text, token ids, and the log-prob of each sampled token."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]

    @property
    def logprob(self) -> float:
        return float(sum(self.logprobs))


class Engine(Protocol):
    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Render a chat through the model's own chat template, ready for generation."""
        ...

    def generate(
        self, prompts: list[str], n: int, sampling: SamplingConfig, seed: int, json_schemas: list[dict] | None = None,
        token_rules: list[TokenRules] | None = None, logprobs: bool = True,
    ) -> list[list[Sample]]:
        """`n` samples for every prompt; the same seed gives the same samples on one engine.

        `json_schemas`, one per prompt, constrains each completion to JSON matching that schema.
        `token_rules`, one per prompt, bans tokens and repeats of tokens (rollout.mention_mask).
        `logprobs=False` may leave `Sample.logprobs` empty (vLLM then skips ~6% of its work).
        """
        ...
