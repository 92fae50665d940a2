"""What a mechanism needs from the outside world: a text generator and a click model.

Both are Protocols so that `auction/` stays pure Python: the engines live in `rollout/`, the click
models in `judge/` and `irpo/`, and tests can pass any small object with the right methods.
"""
from __future__ import annotations

from collections.abc import Sequence
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
    def generate(self, requests: Sequence[AuctionRequest], n: int, *, seed: int = 0,
                 shown: Sequence[tuple[str, ...]] | None = None) -> list[list[Generation]]:
        """`n` answers to each request, generated as one batch.

        `shown[i]`, from a mechanism that allocates before generating, is the exact list of ads the
        answer to request i must show, in this order; the policy writes the answer around them.
        """
        ...


class ClickModel(Protocol):
    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        """Click probability of every ad inserted in `answer` (keys: its ad IDs)."""
        ...


def answers_click_probs(model: ClickModel, request: AuctionRequest,
                        answers: Sequence[ParsedAnswer]) -> list[dict[str, float]]:
    """`model.click_probs` of every answer to one request; a model that scores a batch faster than one answer
    at a time (a neural pCTR model) offers `answers_click_probs(request, answers)` and gets one call."""
    batched = getattr(model, "answers_click_probs", None)
    return batched(request, answers) if batched else [model.click_probs(request, a) for a in answers]


@dataclass(frozen=True)
class MechanismOutcome:
    """What a mechanism serves for one request, and what it charges.

    `answers` and `probs`: the answers it may serve and the probability of serving each (equal for
    independent draws; MOSAIC's selection probabilities over its candidates).
    `cost_per_click`: the price an inserted ad pays per click (per-click mechanisms).
    `expected_payments`: each advertiser's ex-ante expected payment per request (per-impression
    mechanisms), charged whatever is drawn: its expectation over the draws is the mechanism's revenue.
    """

    answers: tuple[ParsedAnswer, ...]
    probs: tuple[float, ...]
    generations: int
    cost_per_click: dict[str, float] = field(default_factory=dict)
    expected_payments: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.answers) != len(self.probs) or not self.answers:
            raise ValueError("MechanismOutcome: need one probability per answer and at least one answer")


def equally_likely(answers: Sequence[ParsedAnswer]) -> tuple[float, ...]:
    return tuple(1.0 / len(answers) for _ in answers)
