"""What a mechanism needs from the outside world: a text generator and a click model.

Both are Protocols so that `auction/` stays pure Python: the engines live in `rollout/`, the click
models in `judge/` and `irpo/`, and tests can pass any small object with the right methods.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from auction.parser import ParsedAnswer
from auction.types import AuctionRequest


@dataclass(frozen=True)
class Generation:
    """One sampled answer; `logprob` under the sampling model, `ref_logprob` under the reference."""

    text: str
    logprob: float = 0.0
    ref_logprob: float | None = None


class Generator(Protocol):
    def generate(
        self, request: AuctionRequest, n: int, *, instruction: str | None = None, prefix: str = "", seed: int = 0
    ) -> list[Generation]:
        """Sample `n` continuations of `prefix` answering `request`, following `instruction` if given."""
        ...


class ClickModel(Protocol):
    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        """Click probability of every ad inserted in `answer` (keys: its ad IDs)."""
        ...


@dataclass(frozen=True)
class MechanismOutcome:
    """What a mechanism serves for one request, and what it charges.

    `cost_per_click`: the price an inserted ad pays per click (per-click mechanisms).
    `expected_payments`: the expected charge per request of each advertiser (per-impression mechanisms).
    """

    answer: ParsedAnswer
    generations: int
    cost_per_click: dict[str, float] = field(default_factory=dict)
    expected_payments: dict[str, float] = field(default_factory=dict)
