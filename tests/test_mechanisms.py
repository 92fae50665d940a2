import math
import random

import pytest
from hypothesis import given, settings, strategies as st

from auction import AuctionConfig, render_mention
from auction.mechanisms import (
    gumbel_max_draw, integrate, myerson_payment, prominence_payment, prominence_shares, rochet_payments,
    run_llm_auction, run_mosaic, run_prominence, run_segment_auction, segment_allocation, segment_payment,
    selection_probs, welfare,
)
from conftest import ScriptedGenerator, make_request

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
def test_prominence_payment_lies_between_zero_and_bid_times_share(bid_a, bid_b, alpha):
    bids, relevance = {"a": bid_a, "b": bid_b}, {"a": 0.7, "b": 0.4}
    payment = prominence_payment("a", bids, relevance, alpha, steps=400)
    assert 0.0 <= payment <= bid_a * prominence_shares(bids, relevance, alpha)["a"] + 1e-9


class FixedClicks:
    def __init__(self, probs):
        self.probs = probs

    def click_probs(self, request, answer):
        return {ad_id: self.probs[ad_id] for ad_id in answer.ad_ids}


def test_llm_auction_uses_one_generation_and_charges_each_shown_ad_its_bid():
    request = make_request()
    generator = ScriptedGenerator([f"Go with {render_mention(request.by_id['Ad-2'].ad)}."])
    outcome = run_llm_auction(request, generator)
    assert outcome.generations == 1 and outcome.cost_per_click == {"Ad-2": 70.0}


def test_mosaic_serves_the_best_of_m_answers_when_tau_is_small():
    request = make_request()
    shoes, tea = (render_mention(request.by_id[a].ad) for a in ("Ad-2", "Ad-3"))
    generator = ScriptedGenerator([f"Try {tea}.", f"Try {shoes}.", "No ads here."])
    clicks = FixedClicks({"Ad-1": 0.1, "Ad-2": 0.6, "Ad-3": 0.9})
    outcome = run_mosaic(request, generator, clicks, AuctionConfig(), 3, tau=0.01, rng=random.Random(0))
    assert outcome.answer.ad_ids == ("Ad-2",) and outcome.generations == 3
    assert 0 < outcome.expected_payments["Ad-2"] <= 70 * 0.6
    assert outcome.expected_payments["Ad-1"] == 0.0


def test_segment_auction_writes_one_segment_per_draw_around_the_winner():
    request = make_request({"Ad-1": 50.0, "Ad-2": 1e-9, "Ad-3": 1e-9})
    generator = ScriptedGenerator([f" A cup: {render_mention(request.by_id['Ad-1'].ad)}."])
    outcome = run_segment_auction(request, generator, {"Ad-1": 1.0, "Ad-2": 1.0, "Ad-3": 1.0}, 2, random.Random(1))
    assert outcome.generations == 2
    assert "Ad-1" in generator.calls[0]["instruction"] and generator.calls[1]["prefix"].startswith(" A cup")
    assert outcome.answer.ad_ids == ("Ad-1",) and len(outcome.answer.errors) == 1  # the second mention repeats


def test_prominence_instructs_shares_and_charges_myerson_payments():
    request = make_request()
    generator = ScriptedGenerator(["Shoes first."])
    outcome = run_prominence(request, generator, {"Ad-1": 0.2, "Ad-2": 1.0, "Ad-3": 0.1}, alpha=1.0)
    assert "%" in generator.calls[0]["instruction"]
    assert outcome.expected_payments["Ad-2"] > outcome.expected_payments["Ad-3"] >= 0
