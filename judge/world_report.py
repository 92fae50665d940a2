"""What a world's allocation problem looks like: optimal ad counts and the bid-blind ceiling."""
from __future__ import annotations

from collections import Counter

from auction.config import AuctionConfig
from judge.bids import draw_bids
from judge.optimum import bid_blind_allocation, optimal_allocation
from judge.simulated_user import SimulatedUser


def world_report(user: SimulatedUser, auction: AuctionConfig, split: str = "test", seed: int = 0) -> dict:
    """Distribution of optimal ad counts, mean optimum, and efficiency of the best bid-blind policy.

    Bids are the split's fixed draw (phase = split, epoch 0), as the evaluation uses.
    """
    world, counts = user.world, Counter()
    optimum_total = blind_total = 0.0
    queries = world.split(split)
    for query in queries:
        ids = world.candidate_ids(query)
        bids = draw_bids(seed, split, 0, query.query_id, ids)
        relevance = {a: user.model.relevance(query, world.ads[a]) for a in ids}
        categories = {a: world.ads[a].category for a in ids}
        best = optimal_allocation(bids, relevance, categories, user.config, auction)
        blind = bid_blind_allocation(bids, relevance, categories, user.config, auction)
        counts[len(best.ad_ids)] += 1
        optimum_total += best.objective
        blind_total += blind.objective
    n = len(queries)
    return {
        "world": world.name,
        "split": split,
        "requests": n,
        "optimal_ad_count_share": {str(k): counts[k] / n for k in sorted(counts)},
        "optimal_objective_per_query": optimum_total / n,
        "bid_blind_objective_per_query": blind_total / n,
        "bid_blind_efficiency": blind_total / optimum_total if optimum_total else 0.0,
    }
