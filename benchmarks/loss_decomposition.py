"""Where a policy's held-out efficiency goes: each answer's shortfall from its request's optimal allocation.

Run: .venv/bin/python benchmarks/loss_decomposition.py runs/w9/final/samples runs/w4/final/samples
Each argument is a samples stage of a finished run (the stored `eval` answers of one policy, exact expected
clicks). Every answer is put in one kind (it carries an unrelated ad, told apart where no candidate is
related to the query or the user; it shows the optimum's ads; the best
bid-blind allocation's; related ads in the optimum's number but others; fewer; more; none), and the optimum's R
minus the answer's R is summed per kind and divided by the summed optimum, so the kinds add up to 1 minus the
efficiency.
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from auction.config import AuctionConfig
from auction.reward import response_reward
from irpo.loop.sampling import read_samples
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from judge.judged_sample import JudgedSample
from judge.optimum import bid_blind_allocation, optimal_allocation


def kind_of(sample: JudgedSample, optimum: tuple[str, ...], blind: tuple[str, ...], world) -> str:
    shown = set(sample.answer.ad_ids)
    query = world.queries[sample.request_id]
    if any(not world.is_related(query, ad_id) for ad_id in shown):
        fits = any(world.is_related(query, ad_id) for ad_id in world.candidate_ids(query))
        return "an unrelated ad" if fits else "an unrelated ad, where no candidate fits"
    if not shown:
        return "no ad" if optimum else "no ad, as the optimum"
    if shown == set(optimum):
        return "the optimum's ads"
    if shown == set(blind):
        return "the bid-blind optimum's ads"
    if len(shown) == len(optimum):
        return "related, the optimum's count, other ads"
    return "related, fewer ads than the optimum" if len(shown) < len(optimum) else "related, more ads than the optimum"


def decompose(stage: Path, user, auction: AuctionConfig) -> tuple[float, dict[str, tuple[float, float]]]:
    """(efficiency, {kind: (share of answers, efficiency lost)})."""
    samples = read_samples(stage, "eval")
    lost, count, total_optimum, total_reward = defaultdict(float), defaultdict(int), 0.0, 0.0
    for sample in samples:
        bids = sample.request.bids()
        relevance, categories = user.allocation_inputs(sample.request)
        optimum = optimal_allocation(bids, relevance, categories, user.config, auction)
        blind = bid_blind_allocation(bids, relevance, categories, user.config, auction)
        reward = response_reward(sample.answer, sample.bids, sample.expected_clicks(True), auction.response_cost,
                                 auction.penalty_weight)
        kind = kind_of(sample, optimum.ad_ids, blind.ad_ids, user.world)
        lost[kind] += optimum.objective - reward
        count[kind] += 1
        total_optimum += optimum.objective
        total_reward += reward
    return total_reward / total_optimum, {k: (count[k] / len(samples), lost[k] / total_optimum) for k in lost}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stages", nargs="+", type=Path, help="samples stage directories (runs/<run>/<stage>/samples)")
    args = parser.parse_args()
    judge = JudgeConfig()
    user = simulated_user(get_world(judge.world, judge.world_seed), judge)
    for stage in args.stages:
        efficiency, kinds = decompose(stage, user, AuctionConfig())
        print(f"{stage}: efficiency {efficiency:.3f}")
        for kind, (share, lost) in sorted(kinds.items(), key=lambda item: -item[1][1]):
            print(f"  {kind:42s} share {share:.3f}  efficiency lost {lost:.3f}")


if __name__ == "__main__":
    main()
