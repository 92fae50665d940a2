"""Segment auction (Hajiaghayi et al., NeurIPS 2024): one ad drawn per output segment.

Each segment's winner is drawn with probability b_i q_i / sum_j b_j q_j via the Gumbel-max trick; the
winners are chosen before generation, and the policy writes the answer around exactly them. Payments
are Myerson's, in closed form (METHOD.md section 6), charged ex ante: their expectation over the draws.
Bids here are per click, and the mechanism values a segment won at q_i expected clicks (q_i is the click
probability of a native mention), so an advertiser's payment in bid units is q_i times METHOD.md's P_i,
which is per unit of allocation. Charging P_i itself would bill a per-click bid per impression.
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from auction.mechanisms.protocols import Generator, MechanismOutcome, equally_likely
from auction.parser import parse_request_answer
from auction.types import AuctionRequest


def segment_allocation(scores: Mapping[str, float]) -> dict[str, float]:
    """Win probability of each ad in one segment: its score b_i q_i over the total."""
    total = sum(scores.values())
    if total <= 0:
        raise ValueError("segment auction: every b_i q_i is zero, nobody can win")
    return {ad_id: s / total for ad_id, s in scores.items()}


def gumbel_max_draw(scores: Mapping[str, float], rng: random.Random) -> str:
    """Draw an ad with probability proportional to its score: argmax_i log(s_i) + Gumbel noise."""
    best, best_key = None, -math.inf
    for ad_id, score in scores.items():
        if score <= 0:
            continue
        key = math.log(score) - math.log(-math.log(1.0 - rng.random()))
        if key > best_key:
            best, best_key = ad_id, key
    if best is None:
        raise ValueError("segment auction: every b_i q_i is zero, nobody can win")
    return best


def segment_payment(bid: float, relevance: float, others: float) -> float:
    """Expected Myerson payment per segment: (W/q)[ln(1+t) - t/(1+t)], t = b q / W, W = sum_{j!=i} b_j q_j."""
    if relevance <= 0 or bid <= 0:
        return 0.0
    if others <= 0:
        return 0.0  # alone, the bidder wins at any positive bid: the threshold price is 0
    t = bid * relevance / others
    return others / relevance * (math.log1p(t) - t / (1 + t))


def segment_scores(bids: Mapping[str, float], relevance: Mapping[str, float]) -> dict[str, float]:
    return {ad_id: bids[ad_id] * relevance[ad_id] for ad_id in bids}


def segment_expected_payments(bids: Mapping[str, float], relevance: Mapping[str, float],
                              n_segments: int) -> dict[str, float]:
    """Each advertiser's expected payment per request, in bid units: q_i P_i in each of the segments."""
    scores = segment_scores(bids, relevance)
    total = sum(scores.values())
    return {a: n_segments * relevance[a] * segment_payment(bids[a], relevance[a], total - scores[a]) for a in bids}


def segment_winners(scores: Mapping[str, float], n_segments: int, rng: random.Random) -> tuple[str, ...]:
    """One independent draw per segment. An ad winning several segments is shown once (an answer
    mentions an ad at most once), at its first segment."""
    return tuple(dict.fromkeys(gumbel_max_draw(scores, rng) for _ in range(n_segments)))


def run_segment_auction(requests: Sequence[AuctionRequest], generator: Generator,
                        relevances: Sequence[Mapping[str, float]], n_segments: int, draws: int,
                        rng: random.Random) -> list[MechanismOutcome]:
    """`draws` independent runs per request: winners drawn first, then one batch of answers showing them."""
    jobs, shown = [], []
    for request, relevance in zip(requests, relevances):
        scores = segment_scores(request.bids(), relevance)
        jobs += [request] * draws
        shown += [segment_winners(scores, n_segments, rng) for _ in range(draws)]
    texts = [g.text for (g,) in generator.generate(jobs, 1, seed=rng.randrange(2**31), shown=shown)]
    outcomes = []
    for k, (request, relevance) in enumerate(zip(requests, relevances)):
        answers = tuple(parse_request_answer(t, request) for t in texts[k * draws:(k + 1) * draws])
        outcomes.append(MechanismOutcome(answers, equally_likely(answers), generations=1,
                                         expected_payments=segment_expected_payments(request.bids(), relevance,
                                                                                     n_segments)))
    return outcomes
