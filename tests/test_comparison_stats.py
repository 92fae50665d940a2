"""Bootstrap intervals and paired differences of the mechanism comparison."""
import numpy as np
import pytest

from evaluation.stats import SCORE_FIELDS, metrics_with_intervals, paired_differences, resample_counts


def scores(**columns) -> np.ndarray:
    n = len(next(iter(columns.values())))
    table = np.ones((n, len(SCORE_FIELDS)))
    for name, values in columns.items():
        table[:, SCORE_FIELDS.index(name)] = values
    return table


def test_the_95_percent_interval_covers_the_true_mean_in_about_95_percent_of_seeded_repetitions():
    rng, true_mean, hits, repetitions = np.random.default_rng(0), 3.0, 0, 300
    for k in range(repetitions):
        sample = rng.normal(true_mean, 2.0, size=60)
        lo, hi = metrics_with_intervals(scores(revenue=sample), resample_counts(60, 1000, seed=k))["ci95"][
            "revenue_per_query"]
        hits += lo <= true_mean <= hi
    assert 0.90 <= hits / repetitions <= 0.98


def test_ratio_metrics_divide_sums_over_requests_not_average_ratios():
    table = scores(reward=[1.0, 9.0], optimum=[1.0, 19.0], clicks=[0.5, 0.0], ads=[1.0, 0.0])
    metrics = metrics_with_intervals(table, resample_counts(2, 50))
    assert metrics["allocation_efficiency"] == pytest.approx(10 / 20)
    assert metrics["ctr"] == pytest.approx(0.5)


def test_paired_differences_of_a_constant_shift_are_exact_however_noisy_the_requests():
    theirs = scores(revenue=np.random.default_rng(1).normal(10, 5, size=40))
    ours = theirs.copy()
    ours[:, SCORE_FIELDS.index("revenue")] += 2.0
    paired = paired_differences(ours, theirs, resample_counts(40))["revenue_per_query"]
    assert paired["difference"] == pytest.approx(2.0)
    assert paired["ci95"] == pytest.approx([2.0, 2.0])
    unpaired = metrics_with_intervals(theirs, resample_counts(40))["ci95"]["revenue_per_query"]
    assert unpaired[1] - unpaired[0] > 1.0


def test_a_metric_without_data_is_none_with_no_interval():
    table = scores(reward_pctr=[float("nan")] * 3, ads=[0.0] * 3, clicks=[0.0] * 3)
    metrics = metrics_with_intervals(table, resample_counts(3, 20))
    assert metrics["reward_per_query_pctr"] is None and metrics["ci95"]["reward_per_query_pctr"] is None
    assert metrics["ctr"] is None
