"""Prominence / LLM summaries (Dubey et al., KDD 2024): each ad gets a share of the text.

share_i = (b_i q_i)^alpha / sum_j (b_j q_j)^alpha; the shares are handed to the policy as an
instruction, and each advertiser pays Myerson's payment for its share curve, integrated numerically.
"""
from __future__ import annotations

from collections.abc import Mapping

from auction.mechanisms.myerson import myerson_payment
from auction.mechanisms.protocols import Generator, MechanismOutcome
from auction.parser import parse_answer, render_mention
from auction.types import AuctionRequest


def prominence_shares(bids: Mapping[str, float], relevance: Mapping[str, float], alpha: float) -> dict[str, float]:
    """Share of the answer each ad should get; all zero when no ad has a positive score."""
    weights = {ad_id: (bids[ad_id] * relevance[ad_id]) ** alpha for ad_id in bids}
    total = sum(weights.values())
    return {ad_id: (w / total if total > 0 else 0.0) for ad_id, w in weights.items()}


def prominence_payment(
    ad_id: str, bids: Mapping[str, float], relevance: Mapping[str, float], alpha: float, steps: int = 2000
) -> float:
    """Myerson payment of one ad: its share as a function of its own bid, the others fixed."""

    def share_at(bid: float) -> float:
        return prominence_shares({**bids, ad_id: bid}, relevance, alpha)[ad_id]

    return myerson_payment(share_at, bids[ad_id], steps)


def run_prominence(
    request: AuctionRequest, generator: Generator, relevance: Mapping[str, float], alpha: float, seed: int = 0
) -> MechanismOutcome:
    """Instruct the policy with the shares, generate once, charge each ad its Myerson payment."""
    bids = request.bids()
    shares = prominence_shares(bids, relevance, alpha)
    listed = [f"{render_mention(request.by_id[a].ad)} {round(100 * s)}%" for a, s in shares.items() if s >= 0.01]
    instruction = "Give each ad about this share of the answer: " + "; ".join(listed)
    (generation,) = generator.generate(request, 1, instruction=instruction, seed=seed)
    answer = parse_answer(generation.text, [c.ad for c in request.candidates])
    payments = {ad_id: prominence_payment(ad_id, bids, relevance, alpha) for ad_id in bids}
    return MechanismOutcome(answer, generations=1, expected_payments=payments)
