"""Build the `tiny` world: 40 ads in 20 categories, 300 profiles x 5 queries, 8 candidates each.

The candidate sets make the allocation problem real: usually both ads of the query's main topic
(competitors), sometimes an ad of its second topic, ads the user is interested in, and filler ads
that fit neither. Three main-topic sets in ten are left out, so that sometimes no ad is worth showing.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from judge.tiny_language import AGES, CATEGORIES, JOBS, ONE_TOPIC_QUERIES, PLACES, TWO_TOPIC_QUERIES, ad_ids
from judge.world import CatalogueAd, Profile, Query, World

N_PROFILES, QUERIES_PER_PROFILE, N_CANDIDATES = 300, 5, 8
TEST_SHARE = 0.2
TWO_TOPIC_SHARE = 0.3
TOPIC_FROM_INTERESTS = 0.6
MAIN_TOPIC_ADS_SHOWN = 0.7


def tiny_catalogue() -> dict[str, CatalogueAd]:
    ads, ids = {}, iter(ad_ids())
    for category, (keywords, pairs) in CATEGORIES.items():
        for title, specific in pairs:
            ad_id = next(ids)
            ads[ad_id] = CatalogueAd(ad_id, title, category, (*keywords, *specific))
    return ads


def build_tiny_world(seed: int = 0) -> World:
    rng = random.Random(seed)
    ads = tiny_catalogue()
    by_category = _by_category(ads)
    profiles, queries = {}, {}
    for p in range(N_PROFILES):
        profile = _profile(f"u-{p + 1}", rng)
        profiles[profile.user_id] = profile
        for q in range(QUERIES_PER_PROFILE):
            query_id = f"q-{p + 1}-{q + 1}"
            topics = _topics(profile, rng)
            text = _query_text(topics, ads, by_category, rng)
            split = "test" if rng.random() < TEST_SHARE else "train"
            candidates = _candidates(topics, profile, by_category, rng)
            queries[query_id] = Query(query_id, profile.user_id, text, topics, split, candidates)
    return World("tiny", "category", ads, profiles, queries, tuple(CATEGORIES))


def fresh_requests(world: World, rng: random.Random) -> Iterator[Query]:
    """Requests drawn as the world's own are (one of its users, topics, a question, candidates) but in no
    split, and never a test request's user and question: pre-training auctions beyond the train split's."""
    by_category = _by_category(world.ads)
    held_out = {(q.user_id, q.text) for q in world.split("test")}
    users = sorted(world.profiles)
    for index in itertools.count():
        while True:
            profile = world.profiles[rng.choice(users)]
            topics = _topics(profile, rng)
            text = _query_text(topics, world.ads, by_category, rng)
            if (profile.user_id, text) not in held_out:
                break
        yield Query(f"fresh-{index}", profile.user_id, text, topics, "fresh",
                    _candidates(topics, profile, by_category, rng))


def _by_category(ads: dict[str, CatalogueAd]) -> dict[str, list[str]]:
    return {c: [a.ad_id for a in ads.values() if a.category == c] for c in CATEGORIES}


def _profile(user_id: str, rng: random.Random) -> Profile:
    interests = tuple(rng.sample(list(CATEGORIES), rng.choice([2, 3])))
    basic = f"{rng.choice(AGES)} {rng.choice(JOBS)} lives in the {rng.choice(PLACES)}"
    return Profile(user_id, basic, interests)


def _topics(profile: Profile, rng: random.Random) -> tuple[str, ...]:
    pool = list(profile.interests) if rng.random() < TOPIC_FROM_INTERESTS else list(CATEGORIES)
    main = rng.choice(pool)
    if rng.random() >= TWO_TOPIC_SHARE:
        return (main,)
    return (main, rng.choice([c for c in CATEGORIES if c != main]))


def _query_text(topics, ads, by_category, rng: random.Random) -> str:
    def keyword(category: str) -> str:
        # One query in three names an ad-specific word, so one competitor is the more relevant.
        if rng.random() < 1 / 3:
            return rng.choice(ads[rng.choice(by_category[category])].keywords[4:])
        return rng.choice(CATEGORIES[category][0])

    if len(topics) == 1:
        return rng.choice(ONE_TOPIC_QUERIES).format(k=keyword(topics[0]))
    return rng.choice(TWO_TOPIC_QUERIES).format(k=keyword(topics[0]), k2=keyword(topics[1]))


def _candidates(topics, profile: Profile, by_category, rng: random.Random) -> tuple[str, ...]:
    chosen: list[str] = []
    if rng.random() < MAIN_TOPIC_ADS_SHOWN:
        chosen += by_category[topics[0]]
    if len(topics) > 1:
        chosen.append(rng.choice(by_category[topics[1]]))
    interest_only = [c for c in profile.interests if c not in topics]
    for category in rng.sample(interest_only, min(len(interest_only), rng.choice([0, 1, 2]))):
        chosen.append(rng.choice(by_category[category]))
    fillers = [a for c, ids in by_category.items() if c not in topics and c not in profile.interests for a in ids]
    chosen += rng.sample(fillers, N_CANDIDATES - len(chosen))
    rng.shuffle(chosen)
    return tuple(chosen)
