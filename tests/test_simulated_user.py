import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auction import AuctionConfig, parse_answer, render_mention
from auction.parser import mention_sentence
from judge.config import JudgeConfig, SimulatedUserConfig
from judge.environment import simulated_user
from judge.optimum import bid_blind_allocation, optimal_allocation
from judge.tiny_world import build_tiny_world


@pytest.fixture(scope="module")
def user():
    return simulated_user(build_tiny_world(0), JudgeConfig())


def ask(user, query_id, sentences, bids=None):
    """An answer made of `sentences`, each with `{ad-id}` placeholders for mentions."""
    world = user.world
    query = world.queries[query_id]
    request = world.request(query, bids or {a: 50.0 for a in query.candidates})
    text = " . ".join(sentences)
    for ad_id in query.candidates:
        text = text.replace("{" + ad_id + "}", render_mention(world.ads[ad_id].as_ad()))
    return request, parse_answer(text, [c.ad for c in request.candidates])


def find_query(user, predicate):
    return next(q for q in user.world.queries.values() if predicate(q))


def topic_pair(user):
    """A query whose candidates hold both ads of its main topic."""
    world = user.world
    q = find_query(user, lambda q: sum(world.ads[a].category == q.topics[0] for a in q.candidates) == 2)
    return q, [a for a in q.candidates if world.ads[a].category == q.topics[0]]


def test_click_probability_rises_with_relevance(user):
    world = user.world
    q, (on_topic, _) = topic_pair(user)
    off_topic = next(a for a in q.candidates if world.ads[a].category not in (*q.topics, *world.profiles[q.user_id].interests))
    keyword_on = world.ads[on_topic].keywords[0]
    keyword_off = world.ads[off_topic].keywords[0]
    request, answer = ask(user, q.query_id, [f"for {keyword_on} try {{{on_topic}}}"])
    _, off = ask(user, q.query_id, [f"for {keyword_off} try {{{off_topic}}}"])
    assert user.click_probs(request, answer)[on_topic] > 3 * user.click_probs(request, off)[off_topic]


def test_an_abrupt_insertion_is_clicked_less_than_a_native_one(user):
    q, (ad_id, _) = topic_pair(user)
    keyword = user.world.ads[ad_id].keywords[0]
    request, native = ask(user, q.query_id, [f"for {keyword} you can try {{{ad_id}}}"])
    _, abrupt = ask(user, q.query_id, ["rest well", f"you can try {{{ad_id}}}"])
    p_native, p_abrupt = user.click_probs(request, native)[ad_id], user.click_probs(request, abrupt)[ad_id]
    assert p_abrupt == pytest.approx(p_native * user.config.native_floor)


def test_of_two_competing_ads_only_the_more_relevant_can_be_clicked(user):
    q, (first, second) = topic_pair(user)
    request, answer = ask(user, q.query_id, [f"try {{{first}}}", f"or {{{second}}}"])
    probs = user.click_probs(request, answer)
    assert sum(p > 0 for p in probs.values()) == 1
    rel = {a: user.relevance(request, a) for a in (first, second)}
    loser = second if rel[first] >= rel[second] else first
    assert probs[loser] == 0.0


def test_flooding_beyond_the_threshold_zeroes_every_click(user):
    q = next(iter(user.world.queries.values()))
    ads = list(q.candidates)
    limit = user.config.flood_threshold
    request, at_limit = ask(user, q.query_id, [f"try {{{a}}}" for a in ads[:limit]])
    _, flooded = ask(user, q.query_id, [f"try {{{a}}}" for a in ads[: limit + 1]])
    assert any(p > 0 for p in user.click_probs(request, at_limit).values())
    assert set(user.click_probs(request, flooded).values()) == {0.0}


def test_later_positions_are_clicked_less(user):
    world = user.world
    q = find_query(user, lambda q: world.ads[q.candidates[0]].category != world.ads[q.candidates[1]].category)
    a, b = q.candidates[:2]
    request, ab = ask(user, q.query_id, [f"try {{{a}}}", f"try {{{b}}}"])
    _, ba = ask(user, q.query_id, [f"try {{{b}}}", f"try {{{a}}}"])
    decay = user.config.position_decay
    assert user.click_probs(request, ab)[b] == pytest.approx(user.click_probs(request, ba)[b] * decay)


def test_sampled_clicks_are_seeded_and_match_the_exact_probabilities(user):
    q, (ad_id, _) = topic_pair(user)
    request, answer = ask(user, q.query_id, [f"try {{{ad_id}}}"])
    assert user.sample_clicks(request, answer, 1) == user.sample_clicks(request, answer, 1)
    rate = sum(user.sample_clicks(request, answer, s)[ad_id] for s in range(4000)) / 4000
    p = user.click_probs(request, answer)[ad_id]
    assert abs(rate - p) < 4 * (p * (1 - p) / 4000) ** 0.5 + 1e-9


def test_the_mention_sentence_is_the_one_around_the_mention_without_mentions():
    text = "rest well. for coffee try @A@[Ad-1] and @B@[Ad-2] today! bye"
    start = text.index("@A")
    assert mention_sentence(text, start, start + len("@A@[Ad-1]")).split() == ["for", "coffee", "try", "and", "today"]


def brute_force(bids, relevance, categories, user_config, auction):
    """Every subset in every order, valued by the click model's own formula (ideal nativeness)."""
    cost = auction.penalty_weight * auction.response_cost.per_ad_cost
    best = 0.0
    ids = list(bids)
    for size in range(1, len(ids) + 1):
        for order in itertools.permutations(ids, size):
            if size > user_config.flood_threshold:
                value = 0.0
            else:
                value = 0.0
                for k, a in enumerate(order):
                    beaten = any(categories[o] == categories[a] and (relevance[o], -j) > (relevance[a], -k)
                                 for j, o in enumerate(order) if o != a)
                    value += 0 if beaten else bids[a] * relevance[a] * user_config.position_decay**k
            best = max(best, value - cost * size)
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000), st.integers(1, 4))
def test_optimal_allocation_matches_brute_force_on_small_requests(n, seed, flood):
    rng = random.Random(seed)
    ids = [f"a{k}" for k in range(n)]
    bids = {a: float(rng.randint(1, 100)) for a in ids}
    relevance = {a: rng.choice([0.02, 0.3, 0.5, 0.77, rng.random()]) for a in ids}
    categories = {a: rng.choice("xyz") for a in ids}
    config, auction = SimulatedUserConfig(flood_threshold=flood), AuctionConfig()
    got = optimal_allocation(bids, relevance, categories, config, auction)
    assert got.objective == pytest.approx(brute_force(bids, relevance, categories, config, auction))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_the_greedy_optimum_beyond_the_exhaustive_limit_agrees_with_exhaustive_search(seed):
    rng = random.Random(seed)
    ids = [f"a{k}" for k in range(12)]
    bids = {a: float(rng.randint(1, 100)) for a in ids}
    relevance = {a: rng.random() for a in ids}
    categories = {a: rng.choice("wxyzuv") for a in ids}
    exhaustive = optimal_allocation(bids, relevance, categories, SimulatedUserConfig(), AuctionConfig())
    greedy = optimal_allocation(bids, relevance, categories, SimulatedUserConfig(exhaustive_max_candidates=2),
                                AuctionConfig())
    assert greedy.objective == pytest.approx(exhaustive.objective)


def test_the_bid_blind_allocation_never_beats_the_optimum(user):
    world, auction = user.world, AuctionConfig()
    for q in world.split("test")[:100]:
        bids = {a: float(random.Random(q.query_id).randint(1, 100)) for a in q.candidates}
        rel = {a: user.model.relevance(q, world.ads[a]) for a in q.candidates}
        cats = {a: world.ads[a].category for a in q.candidates}
        best = optimal_allocation(bids, rel, cats, user.config, auction)
        assert bid_blind_allocation(bids, rel, cats, user.config, auction).objective <= best.objective + 1e-9
