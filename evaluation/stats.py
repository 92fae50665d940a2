"""Metrics of a mechanism over per-request scores, with 95% bootstrap intervals over requests.

Every metric is a ratio of sums over requests (a mean has the request count below), so one bootstrap
resample of the requests, as a count per request, gives every metric at once. The same resamples
serve every mechanism, which makes the differences between two mechanisms paired.
"""
from __future__ import annotations

import math

import numpy as np

# Per-request scores a mechanism produces (expected over its answers), in this order.
SCORE_FIELDS = ("revenue", "reward", "reward_pctr", "clicks", "ads", "format_errors", "response_cost", "optimum")
# metric -> (numerator score, denominator score or None for "per request")
METRICS = {
    "revenue_per_query": ("revenue", None),
    "reward_per_query": ("reward", None),
    "reward_per_query_pctr": ("reward_pctr", None),
    "ctr": ("clicks", "ads"),
    "ads_per_answer": ("ads", None),
    "format_error_rate": ("format_errors", None),
    "allocation_efficiency": ("reward", "optimum"),
    "mean_response_cost": ("response_cost", None),
}
PAIRED_METRICS = ("revenue_per_query", "reward_per_query", "allocation_efficiency", "ctr", "ads_per_answer")
RESAMPLES, LEVEL = 2000, 0.95


def resample_counts(n_requests: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """(resamples x requests) counts: how often each request is drawn in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_requests, np.full(n_requests, 1.0 / n_requests), size=resamples).astype(float)


def _ratio(scores: np.ndarray, metric: str, weights: np.ndarray) -> np.ndarray:
    """The metric under each row of `weights` (a 1-D array of ones gives the point estimate)."""
    num, den = METRICS[metric]
    top = weights @ scores[:, SCORE_FIELDS.index(num)]
    bottom = weights @ (np.ones(len(scores)) if den is None else scores[:, SCORE_FIELDS.index(den)])
    with np.errstate(divide="ignore", invalid="ignore"):
        return top / bottom


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1 - LEVEL) / 2 * 100
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def metrics_with_intervals(scores: np.ndarray, counts: np.ndarray) -> dict:
    """Each metric's point estimate, and under `ci95` its percentile bootstrap interval."""
    ones = np.ones(len(scores))
    metrics = {m: _finite(_ratio(scores, m, ones)) for m in METRICS}
    metrics["ci95"] = {m: _interval(_ratio(scores, m, counts)) if metrics[m] is not None else None for m in METRICS}
    return metrics


def paired_differences(ours: np.ndarray, theirs: np.ndarray, counts: np.ndarray) -> dict:
    """ours - theirs for each paired metric, on the same requests and resamples, with its interval."""
    ones = np.ones(len(ours))
    result = {}
    for metric in PAIRED_METRICS:
        point = _finite(_ratio(ours, metric, ones) - _ratio(theirs, metric, ones))
        spread = _ratio(ours, metric, counts) - _ratio(theirs, metric, counts)
        result[metric] = {"difference": point, "ci95": _interval(spread) if point is not None else None}
    return result
