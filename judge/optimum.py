"""The best allocation a mechanism could serve under the simulated user's own click model.

"Ideally placed" means every mention sits in a native sentence, in the order that maximises the
objective sum_i b_i p_i - lambda * per_ad_cost * |S|. Flooded answers and two ads of one category
never win (they add cost, not clicks), so only sets of <= F ads of distinct categories are searched.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from auction.config import AuctionConfig
from judge.config import SimulatedUserConfig


@dataclass(frozen=True)
class Allocation:
    ad_ids: tuple[str, ...]  # in serving order
    objective: float  # expected sum b_i p_i - lambda * s_resp


def revenue_in_order(scores: Mapping[str, float], order, decay: float) -> float:
    """Expected revenue sum_k b_k r_k decay^k of ads served in `order` (all mentions native)."""
    return sum(scores[a] * decay**k for k, a in enumerate(order))


def placed_value(scores: Mapping[str, float], ad_ids, decay: float) -> tuple[tuple[str, ...], float]:
    """Best order of a set (highest b_i r_i first, by rearrangement) and its expected revenue."""
    order = tuple(sorted(ad_ids, key=lambda a: -scores[a]))
    return order, revenue_in_order(scores, order, decay)


def optimal_allocation(
    bids: Mapping[str, float],
    relevance: Mapping[str, float],
    categories: Mapping[str, str],
    user: SimulatedUserConfig,
    auction: AuctionConfig,
) -> Allocation:
    """Exhaustive over candidate subsets up to `exhaustive_max_candidates`; exact greedy beyond.

    The greedy is exact for this click model: with distinct categories every ad's click counts, so
    the best set of size m is the m highest b_i r_i (an exchange argument), one per category.
    """
    scores = {a: bids[a] * relevance[a] for a in bids}
    cost = auction.penalty_weight * auction.response_cost.per_ad_cost
    best = Allocation((), 0.0)
    for subset in _subsets(scores, categories, user):
        order, revenue = placed_value(scores, subset, user.position_decay)
        objective = revenue - cost * len(subset)
        if objective > best.objective + 1e-12:
            best = Allocation(order, objective)
    return best


def _subsets(scores, categories, user: SimulatedUserConfig):
    ids = list(scores)
    sizes = range(1, min(user.flood_threshold, len(ids)) + 1)
    if len(ids) <= user.exhaustive_max_candidates:
        for size in sizes:
            for subset in itertools.combinations(ids, size):
                if len({categories[a] for a in subset}) == size:
                    yield subset
        return
    best_per_category: dict[str, str] = {}
    for a in sorted(ids, key=lambda a: -scores[a]):
        best_per_category.setdefault(categories[a], a)
    ranked = sorted(best_per_category.values(), key=lambda a: -scores[a])
    for size in sizes:
        yield tuple(ranked[:size])


def bid_blind_allocation(
    bids: Mapping[str, float],
    relevance: Mapping[str, float],
    categories: Mapping[str, str],
    user: SimulatedUserConfig,
    auction: AuctionConfig,
    assumed_bid: float = 50.5,
) -> Allocation:
    """The best allocation for a mechanism that sees relevance but not bids, valued at the true bids.

    It assumes every bid is the mean of U{1..100}; its objective is then recomputed with the real ones.
    """
    blind = optimal_allocation({a: assumed_bid for a in bids}, relevance, categories, user, auction)
    scores = {a: bids[a] * relevance[a] for a in bids}
    cost = auction.penalty_weight * auction.response_cost.per_ad_cost * len(blind.ad_ids)
    return Allocation(blind.ad_ids, revenue_in_order(scores, blind.ad_ids, user.position_decay) - cost)
