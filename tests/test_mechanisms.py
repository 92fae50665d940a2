import math
import random

import pytest
from conftest import ScriptedGenerator, make_request
from hypothesis import given, settings
from hypothesis import strategies as st

from auction import AuctionConfig, render_mention
from auction.mechanisms import (
    ProminenceRule,
    allocated_clicks,
    gumbel_max_draw,
    integrate,
    myerson_payment,
    prominence_allocation,
    prominence_payment,
    prominence_shares,
    rochet_payments,
    run_llm_auction,
    run_mosaic,
    run_prominence,
    run_segment_auction,
    segment_allocation,
    segment_payment,
    selection_probs,
    welfare,
)
from evaluation.compare import revenue

positive = st.floats(0.01, 100, allow_nan=False)


@settings(max_examples=200)
@given(bid=positive, relevance=st.floats(0.05, 1), others=st.floats(0.1, 500))
def test_segment_closed_form_payment_equals_numeric_myerson_integral(bid, relevance, others):
    def allocation(b):
        return b * relevance / (b * relevance + others)

    numeric = myerson_payment(allocation, bid, steps=4000)
    # Simpson error on a steep curve is judged on the scale of the bid, the payment's natural unit.
    assert segment_payment(bid, relevance, others) == pytest.approx(numeric, rel=1e-5, abs=1e-6 * bid)


def test_segment_payment_is_zero_for_a_bidder_alone_or_without_relevance():
    assert segment_payment(50, 0.5, 0.0) == 0.0
    assert segment_payment(50, 0.0, 10.0) == 0.0


def test_gumbel_max_draws_match_score_shares_within_monte_carlo_error():
    scores = {"a": 10.0, "b": 30.0, "c": 60.0, "d": 0.0}
    rng, n = random.Random(7), 20000
    counts = {k: 0 for k in scores}
    for _ in range(n):
        counts[gumbel_max_draw(scores, rng)] += 1
    for ad_id, p in segment_allocation(scores).items():
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(counts[ad_id] / n - p) <= 4 * sigma + 1e-12


def test_gumbel_max_draw_refuses_all_zero_scores():
    with pytest.raises(ValueError, match="zero"):
        gumbel_max_draw({"a": 0.0}, random.Random(0))


def test_integrate_is_exact_for_cubics():
    assert integrate(lambda x: x**3 - 2 * x, 0, 3, steps=10) == pytest.approx(81 / 4 - 9)


@settings(max_examples=100)
@given(st.lists(st.floats(-50, 150), min_size=2, max_size=8))
def test_mosaic_selection_tends_to_the_argmax_as_tau_goes_to_zero(rewards):
    best = max(rewards)
    winners = [k for k, r in enumerate(rewards) if r == best]
    probs = selection_probs(rewards, [0.0] * len(rewards), tau=1e-6)
    if all(best - r > 1e-3 for r in rewards if r != best):
        assert sum(probs[k] for k in winners) == pytest.approx(1.0, abs=1e-6)


def test_mosaic_selection_with_large_tau_follows_the_importance_weights():
    probs = selection_probs([100.0, 0.0], [math.log(1), math.log(3)], tau=1e9)
    assert probs == pytest.approx([0.25, 0.75], abs=1e-6)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(-30, 0)), min_size=1, max_size=6),
    st.floats(0.5, 50),
)
def test_mosaic_rochet_payments_are_individually_rational(rows, tau):
    own_a, own_b, user = zip(*rows)
    rewards = [a + b + u for a, b, u in rows]
    log_w = [0.0] * len(rows)
    payments = rochet_payments({"a": own_a, "b": own_b}, rewards, log_w, tau)
    probs = selection_probs(rewards, log_w, tau)
    for ad_id, own in (("a", own_a), ("b", own_b)):
        expected_value = sum(p * o for p, o in zip(probs, own))
        assert 0.0 <= payments[ad_id] <= expected_value + 1e-9
        without = [r - o for r, o in zip(rewards, own)]
        assert expected_value - payments[ad_id] == pytest.approx(
            welfare(rewards, log_w, tau) - welfare(without, log_w, tau), abs=1e-6
        )


def test_prominence_shares_sum_to_one_and_rise_with_the_bid():
    relevance = {"a": 0.5, "b": 1.0}
    shares = prominence_shares({"a": 20, "b": 10}, relevance, alpha=2)
    assert sum(shares.values()) == pytest.approx(1.0)
    higher = prominence_shares({"a": 40, "b": 10}, relevance, alpha=2)
    assert higher["a"] > shares["a"]


@settings(max_examples=50)
@given(st.floats(1, 100), st.floats(1, 100), st.floats(0.5, 3))
def test_prominence_payment_lies_between_zero_and_bid_times_allocated_clicks(bid_a, bid_b, alpha):
    bids, relevance = {"a": bid_a, "b": bid_b}, {"a": 0.7, "b": 0.4}
    rule = ProminenceRule(alpha=alpha, position_decay=0.7)
    payment = prominence_payment("a", bids, relevance, rule)
    assert -1e-9 <= payment <= bid_a * allocated_clicks("a", bid_a, bids, relevance, rule) + 1e-9


@settings(max_examples=30)
@given(st.floats(1, 100), st.floats(1, 100), st.floats(1, 100), st.floats(0.5, 3))
def test_prominence_payment_equals_a_fine_numeric_myerson_integral(bid_a, bid_b, bid_c, alpha):
    bids, relevance = {"a": bid_a, "b": bid_b, "c": bid_c}, {"a": 0.7, "b": 0.4, "c": 0.2}
    rule = ProminenceRule(alpha=alpha, slots=2, position_decay=0.6)
    numeric = myerson_payment(lambda z: allocated_clicks("a", z, bids, relevance, rule), bid_a, steps=20000)
    assert prominence_payment("a", bids, relevance, rule) == pytest.approx(numeric, abs=2e-3 * bid_a)


def test_prominence_shows_the_largest_shares_above_the_floor_largest_first_within_the_slots():
    bids = {"a": 10.0, "b": 40.0, "c": 30.0, "d": 20.0, "e": 1.0}
    shown = prominence_allocation(bids, dict.fromkeys(bids, 1.0), ProminenceRule(slots=3, min_share=0.1))
    assert shown == ("b", "c", "d")  # a's share is 0.099 < 0.1, e's 0.01; only 3 slots anyway


class FixedClicks:
    def __init__(self, probs):
        self.probs = probs

    def click_probs(self, request, answer):
        return {ad_id: self.probs[ad_id] for ad_id in answer.ad_ids}


def mention(request, ad_id):
    return render_mention(request.by_id[ad_id].ad)


def test_llm_auction_draws_its_answers_in_one_batch_and_charges_each_shown_ad_its_bid_per_click():
    request = make_request()
    generator = ScriptedGenerator([f"Go with {mention(request, 'Ad-2')}.", "No ads."])
    (outcome,) = run_llm_auction([request], generator, draws=2)
    assert len(generator.calls) == 1 and outcome.probs == (0.5, 0.5) and outcome.cost_per_click["Ad-2"] == 70.0
    clicks = [{"Ad-2": 0.6}, {}]
    assert revenue(outcome, clicks) == pytest.approx(0.5 * 70 * 0.6)


def test_segment_charges_the_hand_computed_ex_ante_myerson_revenue_whatever_is_drawn():
    # Two segments; b q = 5 for both ads, so in each segment W = 5 and t = 1 for both. Per unit of
    # allocation Ad-i pays (5 / q_i)(ln 2 - 1/2); a segment is worth q_i clicks, so in bid units each pays
    # 5 (ln 2 - 1/2) per segment, and the request brings 2 segments x 2 ads x that.
    request = make_request({"Ad-1": 10.0, "Ad-2": 20.0})
    relevance = {"Ad-1": 0.5, "Ad-2": 0.25}
    generator = ScriptedGenerator(["No ads at all.", f"Try {mention(request, 'Ad-1')}."])
    (outcome,) = run_segment_auction([request], generator, [relevance], n_segments=2, draws=2, rng=random.Random(3))
    expected = 2 * 2 * 5 * (math.log(2) - 0.5)
    assert sum(outcome.expected_payments.values()) == pytest.approx(expected)
    assert revenue(outcome, [{}, {"Ad-1": 0.5}]) == pytest.approx(expected)  # not only for the ads shown
    assert outcome.generations == 1 and len(generator.calls) == 1


def test_segment_winners_are_drawn_before_generation_and_each_shown_once_in_order():
    request = make_request({"Ad-1": 50.0, "Ad-2": 40.0, "Ad-3": 1e-9})
    generator = ScriptedGenerator(["x"])
    run_segment_auction([request] * 3, generator, [dict.fromkeys(request.bids(), 1.0)] * 3, 2, 4,
                        random.Random(0))
    (call,) = generator.calls
    assert call["n"] == 1 and len(call["requests"]) == 12
    assert all(1 <= len(ads) == len(set(ads)) <= 2 and set(ads) <= {"Ad-1", "Ad-2"} for ads in call["shown"])
    assert {len(ads) for ads in call["shown"]} == {1, 2}


def test_prominence_charges_hand_computed_myerson_payments_of_the_click_curve():
    # b q: Ad-1 6, Ad-2 5; decay 0.7; floor 10%. Ad-1 (q 0.5) is shown second from z = 10/9 (share 10%)
    # and first from z = 10: pays 12 x 0.5 - [0.35 (10 - 10/9) + 0.5 (12 - 10)] = 17/9.
    # Ad-2 (q 0.25) is shown second from z = 8/3 and first only above 24: pays 0.175 x 8/3 = 7/15.
    request = make_request({"Ad-1": 12.0, "Ad-2": 20.0})
    relevance = {"Ad-1": 0.5, "Ad-2": 0.25}
    rule = ProminenceRule(alpha=1.0, slots=3, min_share=0.1, position_decay=0.7)
    generator = ScriptedGenerator(["x"])
    (outcome,) = run_prominence([request], generator, [relevance], rule, draws=3)
    assert generator.calls[0]["shown"] == [("Ad-1", "Ad-2")] and generator.calls[0]["n"] == 3
    assert outcome.expected_payments["Ad-1"] == pytest.approx(17 / 9)
    assert outcome.expected_payments["Ad-2"] == pytest.approx(7 / 15)
    assert revenue(outcome, [{}] * 3) == pytest.approx(17 / 9 + 7 / 15)


def test_mosaic_serves_each_candidate_with_its_selection_probability_and_charges_hand_computed_rochet_payments():
    # Candidate 1 shows Ad-2 (bid 70, p 0.6): R = 42 - 10 = 32; candidate 2 shows nothing: R = 0.
    request = make_request()
    generator = ScriptedGenerator([f"Try {mention(request, 'Ad-2')}.", "No ads here."])
    clicks, tau = FixedClicks({"Ad-1": 0.1, "Ad-2": 0.6, "Ad-3": 0.9}), 10.0
    (outcome,) = run_mosaic([request], generator, clicks, AuctionConfig(), 2, tau=tau, seed=0)
    served = math.exp(32 / tau) / (math.exp(32 / tau) + 1)
    welfare_with = tau * math.log(math.exp(32 / tau) + 1)
    welfare_without = tau * math.log(math.exp((32 - 42) / tau) + 1)
    assert outcome.probs == pytest.approx((served, 1 - served)) and outcome.generations == 2
    assert outcome.expected_payments["Ad-2"] == pytest.approx(served * 42 - (welfare_with - welfare_without))
    assert outcome.expected_payments["Ad-1"] == outcome.expected_payments["Ad-3"] == 0.0
    assert revenue(outcome, [{"Ad-2": 0.6}, {}]) == pytest.approx(outcome.expected_payments["Ad-2"])
