"""Per-request outcomes and the metrics the project reports (METHOD.md section 5)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auction.config import AuctionConfig
from auction.parser import ParsedAnswer
from auction.reward import advertiser_value, response_reward


@dataclass(frozen=True)
class AnswerOutcome:
    """One served answer and its clicks: 0/1 when realised, probabilities when expected."""

    answer: ParsedAnswer
    bids: Mapping[str, float]
    clicks: Mapping[str, float]


@dataclass(frozen=True)
class MechanismMetrics:
    revenue_per_query: float
    reward_per_query: float
    ctr: float
    ads_per_answer: float
    format_error_rate: float
    n_requests: int


def summarize(outcomes: Sequence[AnswerOutcome], config: AuctionConfig) -> MechanismMetrics:
    """Revenue, reward, CTR, ads per answer and format-error rate over a set of requests."""
    if not outcomes:
        raise ValueError("outcomes: need at least one answer to summarize")
    n = len(outcomes)
    n_ads = sum(len(o.answer.inserted) for o in outcomes)
    total_clicks = sum(o.clicks[ad_id] for o in outcomes for ad_id in o.answer.ad_ids)
    rewards = [
        response_reward(o.answer, o.bids, o.clicks, config.response_cost, config.penalty_weight) for o in outcomes
    ]
    return MechanismMetrics(
        revenue_per_query=sum(advertiser_value(o.answer, o.bids, o.clicks) for o in outcomes) / n,
        reward_per_query=sum(rewards) / n,
        ctr=total_clicks / n_ads if n_ads else 0.0,
        ads_per_answer=n_ads / n,
        format_error_rate=sum(1 for o in outcomes if o.answer.errors) / n,
        n_requests=n,
    )


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman rank correlation; 0.0 when either series is constant (no monotone relation to see)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"spearman: need two equal-length series of >= 2 points, got {len(xs)} and {len(ys)}")
    rx, ry = average_ranks(xs), average_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return 0.0
    return cov / (vx * vy) ** 0.5


def monotonicity(bid_grid: Sequence[float], clicks: Sequence[float]) -> float:
    """Spearman correlation of bid vs the probed ad's clicks: 1.0 for a monotone allocation."""
    return spearman(bid_grid, clicks)


def continuity(bid_grid: Sequence[float], clicks: Sequence[float]) -> float:
    """Largest jump in clicks between adjacent bids of the grid (smaller is smoother)."""
    if len(bid_grid) != len(clicks) or len(bid_grid) < 2:
        raise ValueError("continuity: need two equal-length series of >= 2 points")
    curve = [c for _, c in sorted(zip(bid_grid, clicks))]
    return max(abs(b - a) for a, b in zip(curve, curve[1:]))


def monotone_share(curves: Sequence[Sequence[float]], tolerance: float = 0.02) -> float:
    """Share of per-request curves (ordered by rising bid) that never fall by more than `tolerance`."""
    if not curves:
        raise ValueError("monotone_share: need at least one curve")
    ok = sum(1 for c in curves if all(b >= a - tolerance for a, b in zip(c, c[1:])))
    return ok / len(curves)


def bid_percentile(bid: float, bids: list[float]) -> float:
    """Where `bid` ranks among `bids`: 0 for the lowest, 1 for the highest, ties averaged."""
    below = sum(b < bid for b in bids)
    equal = sum(b == bid for b in bids) - 1
    return (below + equal / 2) / (len(bids) - 1)


def bid_slope(bids: Sequence[float], curves: Sequence[Sequence[float]]) -> tuple[float, float | None]:
    """The bid response: each curve's least-squares slope of clicks against the bid, in clicks per 100 bid
    units, averaged over the curves (one per probed request), with its standard error (None for one curve).
    Unlike the Spearman of the mean curve, whose value on a flat curve is a random rank order, the slope's
    error shrinks with more curves: it is the figure that tells a bid response from none."""
    mean_bid = sum(bids) / len(bids)
    spread = sum((b - mean_bid) ** 2 for b in bids)
    slopes = [100 * sum((b - mean_bid) * c for b, c in zip(bids, curve)) / spread for curve in curves]
    mean_slope = sum(slopes) / len(slopes)
    if len(slopes) < 2:
        return mean_slope, None
    variance = sum((s - mean_slope) ** 2 for s in slopes) / (len(slopes) - 1)
    return mean_slope, (variance / len(slopes)) ** 0.5
