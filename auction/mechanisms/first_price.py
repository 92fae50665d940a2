"""LLM-Auction itself: the trained policy's answers, first-price cost per click."""
from __future__ import annotations

from collections.abc import Sequence

from auction.mechanisms.protocols import Generator, MechanismOutcome, equally_likely
from auction.parser import parse_request_answer
from auction.types import AuctionRequest


def run_llm_auction(requests: Sequence[AuctionRequest], generator: Generator, draws: int = 1,
                    seed: int = 0) -> list[MechanismOutcome]:
    """The policy is the allocation rule; every inserted ad pays its own bid per click. `draws`
    independent answers per request estimate its expected outcome."""
    outcomes = []
    for request, generations in zip(requests, generator.generate(requests, draws, seed=seed)):
        answers = tuple(parse_request_answer(g.text, request) for g in generations)
        outcomes.append(MechanismOutcome(answers, equally_likely(answers), generations=1,
                                         cost_per_click=request.bids()))
    return outcomes
