import pytest

from auction import (
    AnswerOutcome,
    AuctionConfig,
    ResponseCostConfig,
    continuity,
    monotone_share,
    monotonicity,
    parse_answer,
    render_mention,
    spearman,
    summarize,
)


def outcome(request, ad_ids, clicks, extra=""):
    text = " ".join(render_mention(request.by_id[a].ad) for a in ad_ids) + extra
    return AnswerOutcome(parse_answer(text, [c.ad for c in request.candidates]), request.bids(), clicks)


def test_summary_metrics_on_hand_computed_outcomes(request_3ads):
    outcomes = [
        outcome(request_3ads, ["Ad-1", "Ad-2"], {"Ad-1": 1, "Ad-2": 0}),
        outcome(request_3ads, [], {}, " stray @"),
        outcome(request_3ads, ["Ad-2"], {"Ad-2": 1}),
    ]
    m = summarize(outcomes, AuctionConfig(response_cost=ResponseCostConfig(per_ad_cost=5, per_error_cost=20)))
    assert m.revenue_per_query == pytest.approx((40 + 70) / 3)
    assert m.reward_per_query == pytest.approx((40 - 10 + (-20) + 70 - 5) / 3)
    assert m.ctr == pytest.approx(2 / 3)
    assert m.ads_per_answer == pytest.approx(1.0)
    assert m.format_error_rate == pytest.approx(1 / 3)
    assert m.n_requests == 3


def test_summary_refuses_an_empty_set():
    with pytest.raises(ValueError, match="at least one"):
        summarize([], AuctionConfig())


def test_spearman_is_one_for_monotone_minus_one_for_reversed_zero_for_constant():
    grid = [1, 10, 20, 30, 40]
    assert spearman(grid, [0.1, 0.2, 0.25, 0.5, 0.9]) == pytest.approx(1.0)
    assert spearman(grid, [0.9, 0.5, 0.2, 0.1, 0.0]) == pytest.approx(-1.0)
    assert spearman(grid, [0.3] * 5) == 0.0


def test_spearman_with_ties_matches_pearson_on_average_ranks():
    # ranks of y: [1.5, 1.5, 3, 4]; Pearson with x ranks [1,2,3,4] = 0.9486833
    assert spearman([1, 2, 3, 4], [5, 5, 6, 7]) == pytest.approx(0.9486833, abs=1e-6)


def test_monotonicity_and_continuity_of_a_step_curve():
    grid = list(range(1, 101))
    step = [0.0 if b < 50 else 0.8 for b in grid]
    assert monotonicity(grid, step) > 0.8
    assert continuity(grid, step) == pytest.approx(0.8)
    smooth = [b / 100 for b in grid]
    assert continuity(grid, smooth) == pytest.approx(0.01)


def test_monotone_share_tolerates_small_dips_only():
    assert monotone_share([[0.1, 0.2, 0.19, 0.3], [0.5, 0.2, 0.6]], tolerance=0.02) == 0.5
