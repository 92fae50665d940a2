"""The one interface every generation engine implements, and what it returns."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rollout.config import SamplingConfig


@dataclass(frozen=True)
class TokenRules:
    """Decoding rules for one prompt: tokens never sampled, tokens sampled at most once each, and tokens
    that must each be sampled once, in this order, before any `stop` token ends the completion. With a
    `deadline` (the completion's token budget), required tokens still missing near its end are forced."""

    banned: tuple[int, ...] = ()
    once: tuple[int, ...] = ()
    required: tuple[int, ...] = ()
    stop: tuple[int, ...] = ()
    deadline: int = 0


class RuleState:
    """One completion's progress through its TokenRules; `advance` it with each newly sampled token."""

    def __init__(self, rules: TokenRules):
        self.rules, self.used, self.placed, self.count = rules, [], 0, 0
        self.once = frozenset(rules.once) | frozenset(rules.required)

    def advance(self, tokens) -> None:
        for token in tokens:
            self.count += 1
            if token in self.once:
                self.used.append(token)
            if self.placed < len(self.rules.required) and token == self.rules.required[self.placed]:
                self.placed += 1

    def banned_now(self) -> list[int]:
        """Banned tokens, once-tokens already sampled, and, while required tokens remain, every required
        token but the next one and the stop tokens."""
        pending = self.rules.required[self.placed:]
        return [*self.rules.banned, *self.used, *((*pending[1:], *self.rules.stop) if pending else ())]

    def forced(self) -> int | None:
        """The next required token when only enough budget is left to place the missing ones."""
        pending = len(self.rules.required) - self.placed
        if pending and self.rules.deadline and self.count >= self.rules.deadline - pending:
            return self.rules.required[self.placed]
        return None


@dataclass(frozen=True)
class Sample:
    """One sampled completion: its text, token ids, and the log-prob of each sampled token; `prompt_ids`, the
    prompt's token ids as the engine saw them (what a trainer must condition on to score this completion)."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    prompt_ids: tuple[int, ...] = ()

    @property
    def logprob(self) -> float:
        return float(sum(self.logprobs))


class Engine(Protocol):
    tokenizer: Any  # the model's HF tokenizer
    context_length: int  # prompt plus completion tokens the engine accepts

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Render a chat through the model's own chat template, ready for generation."""
        ...

    def generate(
        self, prompts: list[str], n: int, sampling: SamplingConfig, seed: int | Sequence[int],
        json_schemas: list[dict] | None = None, token_rules: list[TokenRules] | None = None, logprobs: bool = True,
    ) -> list[list[Sample]]:
        """`n` samples for every prompt; the same seed gives the same samples on one engine.

        An int `seed` seeds the call (each prompt's stream derived from it and the prompt's index); a
        sequence gives each prompt its own seed (below 2^63), whatever else shares the call.

        `json_schemas`, one per prompt, constrains each completion to JSON matching that schema.
        `token_rules`, one per prompt, bans tokens and repeats of tokens (rollout.mention_mask).
        `logprobs=False` may leave `Sample.logprobs` empty (vLLM then skips ~6% of its work).
        """
        ...

    def close(self) -> None:
        """Release the engine now (a process that loads several engines one after another closes each)."""
        ...
