from conftest import make_request
from hypothesis import given
from hypothesis import strategies as st

from auction import (
    AuctionConfig,
    ResponseCostConfig,
    cost_per_click,
    expected_payments,
    parse_answer,
    realised_charges,
    render_mention,
    response_cost,
    response_reward,
)

COST = ResponseCostConfig(per_ad_cost=5, per_error_cost=20)


def answer_with(request, ad_ids, extra=""):
    text = " and ".join(render_mention(request.by_id[a].ad) for a in ad_ids) + extra
    return parse_answer(text, [c.ad for c in request.candidates])


def test_response_cost_charges_each_ad_and_each_format_error(request_3ads):
    answer = answer_with(request_3ads, ["Ad-1", "Ad-2"], " stray @")
    assert response_cost(answer, COST) == 2 * 5 + 1 * 20


def test_reward_is_expected_bid_revenue_minus_weighted_penalty(request_3ads):
    answer = answer_with(request_3ads, ["Ad-1", "Ad-2"])
    probs = {"Ad-1": 0.5, "Ad-2": 0.1}
    assert response_reward(answer, request_3ads.bids(), probs, COST, 2.0) == 40 * 0.5 + 70 * 0.1 - 2.0 * 10


def test_under_default_costs_an_irrelevant_ad_has_negative_net_reward(request_3ads):
    defaults = AuctionConfig()
    empty = answer_with(request_3ads, [])
    with_ad = answer_with(request_3ads, ["Ad-2"])
    reward = lambda a, p: response_reward(a, request_3ads.bids(), p, defaults.response_cost, defaults.penalty_weight)
    assert reward(with_ad, {"Ad-2": 0.0}) < reward(empty, {}) == 0.0


def test_cost_per_click_is_the_bid_of_each_inserted_ad(request_3ads):
    answer = answer_with(request_3ads, ["Ad-3", "Ad-1"])
    assert cost_per_click(answer, request_3ads.bids()) == {"Ad-3": 5.0, "Ad-1": 40.0}


@given(
    st.dictionaries(st.sampled_from(["Ad-1", "Ad-2", "Ad-3"]), st.floats(0, 1000), min_size=3),
    st.lists(st.sampled_from(["Ad-1", "Ad-2", "Ad-3"]), unique=True),
    st.dictionaries(st.sampled_from(["Ad-1", "Ad-2", "Ad-3"]), st.booleans()),
    st.dictionaries(st.sampled_from(["Ad-1", "Ad-2", "Ad-3"]), st.floats(0, 1), min_size=3),
)
def test_first_price_charges_never_exceed_bid_times_clicks(bids, shown, clicked, probs):
    request = make_request(bids)
    answer = answer_with(request, shown)
    charges = realised_charges(answer, bids, clicked)
    for ad_id, charge in charges.items():
        assert charge <= bids[ad_id] * clicked.get(ad_id, False)
    for ad_id, payment in expected_payments(answer, bids, probs).items():
        assert payment <= bids[ad_id] * probs[ad_id] + 1e-9
    assert set(charges) == set(shown)
