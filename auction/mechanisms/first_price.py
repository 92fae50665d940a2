"""LLM-Auction itself: one generation from the trained policy, first-price cost per click."""
from __future__ import annotations

from auction.mechanisms.protocols import Generator, MechanismOutcome
from auction.parser import parse_answer
from auction.payments import cost_per_click
from auction.types import AuctionRequest


def run_llm_auction(request: AuctionRequest, generator: Generator, seed: int = 0) -> MechanismOutcome:
    """The policy is the allocation rule; every inserted ad pays its own bid per click."""
    (generation,) = generator.generate(request, 1, seed=seed)
    answer = parse_answer(generation.text, [c.ad for c in request.candidates])
    return MechanismOutcome(answer, generations=1, cost_per_click=cost_per_click(answer, request.bids()))
