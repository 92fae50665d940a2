"""Held-out evaluation of one policy from its judged samples, with the simulated user's exact clicks.

Metrics: revenue/query, reward/query, CTR, ads per answer, format-error rate, allocation
efficiency (expected objective / the optimum's, summed over requests), and the monotonicity probe:
one relevant ad's bid swept over a grid, its expected clicks averaged over answers and requests.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from auction.config import AuctionConfig
from auction.metrics import AnswerOutcome, bid_percentile, bid_slope, monotone_share, monotonicity, summarize
from judge.judged_sample import JudgedSample
from judge.optimum import bid_blind_allocation, optimal_allocation
from judge.simulated_user import SimulatedUser
from judge.world import World

METRIC_KEYS = ("revenue_per_query", "reward_per_query", "ctr", "ads_per_answer", "format_error_rate",
               "allocation_efficiency", "monotonicity_spearman", "monotonicity_spearman_stderr", "monotone_share",
               "bid_slope", "bid_slope_stderr", "related_share", "inserted_bid_percentile", "two_ad_share")


def optimum_objectives(user: SimulatedUser, auction: AuctionConfig, requests) -> tuple[float, float]:
    """Summed objective of the optimal and of the best bid-blind allocation over `requests`."""
    optimum = blind = 0.0
    for request in requests:
        bids = request.bids()
        relevance, categories = user.allocation_inputs(request)
        optimum += optimal_allocation(bids, relevance, categories, user.config, auction).objective
        blind += bid_blind_allocation(bids, relevance, categories, user.config, auction).objective
    return optimum, blind


def evaluate_samples(samples: Sequence[JudgedSample], user: SimulatedUser, auction: AuctionConfig,
                     exact: bool = True) -> dict:
    """The evaluation's metric set for the `eval` and `probe` rows of one rollout pass.

    `exact`: clicks are the simulated user's expected clicks; else the LLM judge's realised clicks, and
    allocation efficiency (defined against the simulated user's optimum) is left out.
    """
    evaluated = [s for s in samples if s.purpose == "eval"]
    outcomes = [AnswerOutcome(s.answer, s.bids, s.expected_clicks(exact)) for s in evaluated]
    metrics = asdict(summarize(outcomes, auction))
    requests = {s.request_id: s.request for s in evaluated}  # an eval request's samples share its bids
    optimum, blind = optimum_objectives(user, auction, [requests[r] for r in sorted(requests)])
    total_reward = metrics["reward_per_query"] * len(outcomes)
    answers_per_request = len(outcomes) / len(requests)
    metrics["allocation_efficiency"] = total_reward / answers_per_request / optimum if optimum and exact else None
    metrics["bid_blind_efficiency"] = blind / optimum if optimum else 0.0
    probe = probe_curves([s for s in samples if s.purpose == "probe"], exact)
    metrics.update(probe_metrics(probe))
    metrics.update(inserted_ad_traits(evaluated, user.world))
    return metrics


def inserted_ad_traits(samples: Sequence[JudgedSample], world: World) -> dict:
    """What the inserted ads are: the share related to the query or the user (relevance learnt), where
    their bids rank among the candidates' (0.5 on average for bid-blind choices, 1 for the highest bid),
    and the share of answers with two or more ads (a policy that stops showing a second ad cannot learn
    when two pay: the optimum shows two on about a third of the tiny world's requests)."""
    related, percentiles = [], []
    for sample in samples:
        query, bids = world.queries[sample.request_id], sample.bids
        for ad_id in sample.answer.ad_ids:
            related.append(world.is_related(query, ad_id))
            percentiles.append(bid_percentile(bids[ad_id], list(bids.values())))
    return {"related_share": float(np.mean(related)) if related else None,
            "inserted_bid_percentile": float(np.mean(percentiles)) if percentiles else None,
            "two_ad_share": float(np.mean([len(s.answer.ad_ids) >= 2 for s in samples])) if samples else None}


def probe_curves(probe: Sequence[JudgedSample], exact: bool = True) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(request, probed ad) -> [(bid, expected clicks of that ad averaged over its answers)] by rising bid."""
    points: dict[tuple[str, str], dict[float, list[float]]] = {}
    for sample in probe:
        bid = sample.bids[sample.probe_ad]
        clicks = sample.expected_clicks(exact).get(sample.probe_ad, 0.0)
        points.setdefault((sample.request_id, sample.probe_ad), {}).setdefault(bid, []).append(clicks)
    return {key: sorted((bid, sum(v) / len(v)) for bid, v in levels.items()) for key, levels in points.items()}


def probe_metrics(curves: dict, resamples: int = 200) -> dict:
    """The bid response of the probed ads: the paper's Spearman of the mean curve, with a bootstrap
    standard error over requests, and the mean per-request slope (clicks per 100 bid units) with its
    standard error. A flat curve's Spearman is a random rank order (SD ~0.3 on 11 levels however many
    answers back it); the slope's error shrinks with more requests, so it is what resolves "no response"."""
    if not curves:
        return {"monotonicity_spearman": None, "monotonicity_spearman_stderr": None, "monotone_share": None,
                "bid_slope": None, "bid_slope_stderr": None, "probe_curve": []}
    grid = [bid for bid, _ in next(iter(curves.values()))]
    rows = np.array([[v for _, v in c] for c in curves.values()])
    rng = np.random.default_rng(0)
    boot = [monotonicity(grid, list(rows[rng.integers(0, len(rows), len(rows))].mean(axis=0)))
            for _ in range(resamples)]
    slope, slope_stderr = bid_slope(grid, rows.tolist())
    return {"monotonicity_spearman": monotonicity(grid, list(rows.mean(axis=0))),
            "monotonicity_spearman_stderr": float(np.std(boot)),
            "monotone_share": monotone_share(rows.tolist()),
            "bid_slope": slope, "bid_slope_stderr": slope_stderr,
            "probe_curve": [[b, float(v), float(e)] for b, v, e in
                            zip(grid, rows.mean(axis=0), rows.std(axis=0, ddof=1) / np.sqrt(len(rows)))]}
