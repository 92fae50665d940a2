"""Prominence / LLM summaries (Dubey et al., KDD 2024): each ad gets a share of the answer's prominence.

share_i = (b_i q_i)^alpha / sum_j (b_j q_j)^alpha. An answer has few places for ads and its first place
is the most prominent, so the allocation shows the `slots` largest shares of at least `min_share`,
largest first; it is fixed before generation and the policy writes around exactly those ads. Bids are
per click and an ad in place k is worth q_i decay^k expected clicks, so each advertiser pays Myerson's
payment for that click curve of its own bid: a step function, integrated exactly.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auction.mechanisms.protocols import Generator, MechanismOutcome, equally_likely
from auction.parser import parse_request_answer
from auction.types import AuctionRequest


@dataclass(frozen=True)
class ProminenceRule:
    alpha: float = 1.0
    slots: int = 3
    min_share: float = 0.1
    position_decay: float = 1.0  # expected clicks of place k relative to place 0


def prominence_shares(bids: Mapping[str, float], relevance: Mapping[str, float], alpha: float) -> dict[str, float]:
    """Share of the answer each ad should get; all zero when no ad has a positive score."""
    weights = {ad_id: (bids[ad_id] * relevance[ad_id]) ** alpha for ad_id in bids}
    total = sum(weights.values())
    return {ad_id: (w / total if total > 0 else 0.0) for ad_id, w in weights.items()}


def prominence_allocation(bids: Mapping[str, float], relevance: Mapping[str, float],
                          rule: ProminenceRule) -> tuple[str, ...]:
    """The shown ads, largest share first."""
    shares = prominence_shares(bids, relevance, rule.alpha)
    ranked = sorted((a for a, s in shares.items() if s > 0 and s >= rule.min_share), key=lambda a: (-shares[a], a))
    return tuple(ranked[:rule.slots])


def allocated_clicks(ad_id: str, bid: float, bids: Mapping[str, float], relevance: Mapping[str, float],
                     rule: ProminenceRule) -> float:
    """Expected clicks the allocation gives `ad_id` at its own bid `bid`: q decay^place, or 0 if not shown."""
    shown = prominence_allocation({**bids, ad_id: bid}, relevance, rule)
    return relevance[ad_id] * rule.position_decay ** shown.index(ad_id) if ad_id in shown else 0.0


def prominence_payment(ad_id: str, bids: Mapping[str, float], relevance: Mapping[str, float],
                       rule: ProminenceRule) -> float:
    """Myerson payment b y(b) - int_0^b y(z) dz. The own bid changes y only where the ad's score meets
    another's or its share reaches the floor, so y is constant between those points."""
    bid, q = bids[ad_id], relevance[ad_id]
    if bid <= 0 or q <= 0:
        return 0.0
    scores = [bids[j] * relevance[j] for j in bids if j != ad_id]
    rest = sum(s**rule.alpha for s in scores)
    floor_bid = (rule.min_share / (1 - rule.min_share) * rest) ** (1 / rule.alpha) / q
    cuts = sorted({0.0, bid, *(z for z in (floor_bid, *(s / q for s in scores)) if 0 < z < bid)})
    integral = sum((hi - lo) * allocated_clicks(ad_id, (lo + hi) / 2, bids, relevance, rule)
                   for lo, hi in zip(cuts, cuts[1:]))
    return bid * allocated_clicks(ad_id, bid, bids, relevance, rule) - integral


def run_prominence(requests: Sequence[AuctionRequest], generator: Generator,
                   relevances: Sequence[Mapping[str, float]], rule: ProminenceRule, draws: int = 1,
                   seed: int = 0) -> list[MechanismOutcome]:
    """Allocate, then `draws` answers per request showing exactly the allocated ads; Myerson payments."""
    allocations = [prominence_allocation(r.bids(), q, rule) for r, q in zip(requests, relevances)]
    batches = generator.generate(requests, draws, seed=seed, shown=allocations)
    outcomes = []
    for request, relevance, generations in zip(requests, relevances, batches):
        answers = tuple(parse_request_answer(g.text, request) for g in generations)
        payments = {a: prominence_payment(a, request.bids(), relevance, rule) for a in request.bids()}
        outcomes.append(MechanismOutcome(answers, equally_likely(answers), generations=1, expected_payments=payments))
    return outcomes
