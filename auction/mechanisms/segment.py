"""Segment auction (Hajiaghayi et al., NeurIPS 2024): one ad drawn per output segment.

Each segment's winner is drawn with probability b_i q_i / sum_j b_j q_j via the Gumbel-max trick, and
the policy writes the segment around it. Payments are Myerson's, in closed form (METHOD.md section 6).
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping

from auction.mechanisms.protocols import Generator, MechanismOutcome
from auction.parser import parse_answer, render_mention
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


def run_segment_auction(
    request: AuctionRequest,
    generator: Generator,
    relevance: Mapping[str, float],
    n_segments: int,
    rng: random.Random,
) -> MechanismOutcome:
    """Draw a winner per segment, let the generator write around it, charge Myerson payments."""
    bids = request.bids()
    scores = {ad_id: bids[ad_id] * relevance[ad_id] for ad_id in bids}
    text, expected = "", {ad_id: 0.0 for ad_id in bids}
    for index in range(n_segments):
        winner = gumbel_max_draw(scores, rng)
        mention = render_mention(request.by_id[winner].ad)
        instruction = f"Write the next part of the answer and insert exactly this ad: {mention}"
        (generation,) = generator.generate(request, 1, instruction=instruction, prefix=text, seed=index)
        text += generation.text
        total = sum(scores.values())
        for ad_id in bids:
            expected[ad_id] += segment_payment(bids[ad_id], relevance[ad_id], total - scores[ad_id])
    answer = parse_answer(text, [c.ad for c in request.candidates])
    return MechanismOutcome(answer, generations=n_segments, expected_payments=expected)
