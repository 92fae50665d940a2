"""Build the `paper` world: 100 ads in 50 categories, 3,000 profiles x 5 queries, free English text.

As in the paper (METHOD.md section 2): 12,000 train / 3,000 test queries, all 100 ads as candidates.
Relevance is measured by sentence embeddings, so the world holds no hand-labelled topic scores.
"""
from __future__ import annotations

import random

from judge.paper_catalogue import PAPER_CATEGORIES
from judge.world import CatalogueAd, Profile, Query, World

N_PROFILES, QUERIES_PER_PROFILE, N_TEST = 3000, 5, 3000
TWO_TOPIC_SHARE, TOPIC_FROM_INTERESTS = 0.25, 0.6

OCCUPATIONS = ("nurse", "software engineer", "teacher", "student", "accountant", "chef", "retired engineer",
               "graphic designer", "sales manager", "electrician", "pharmacist", "journalist", "farmer", "lawyer")
CITIES = ("Berlin", "Chicago", "Lyon", "Osaka", "Toronto", "Madrid", "Manchester", "Austin", "Sydney", "Milan")
ONE_TOPIC = (
    "What's the best way to get started with {s}?",
    "I'm a {job} with little free time. Any advice on {s}?",
    "What are common mistakes to avoid with {s}?",
    "How much should I spend on {s}?",
    "Can you suggest a simple weekly plan for {s}?",
)
TWO_TOPIC = (
    "How can I combine {s} with {s2}?",
    "I'm torn between {s} and {s2} this month. What would you suggest?",
)


def paper_catalogue() -> dict[str, CatalogueAd]:
    ads, number = {}, 4800
    for name, keywords, pairs, _ in PAPER_CATEGORIES:
        for title, description in pairs:
            number += 1
            ads[f"Ad-{number}"] = CatalogueAd(f"Ad-{number}", title, name, keywords, description)
    return ads


def build_paper_world(seed: int = 0) -> World:
    rng = random.Random(seed)
    subjects = {name: topics for name, _, _, topics in PAPER_CATEGORIES}
    categories = list(subjects)
    profiles, queries = {}, []
    for p in range(N_PROFILES):
        job = rng.choice(OCCUPATIONS)
        interests = tuple(rng.sample(categories, 3))
        profile = Profile(f"user-{p + 1}", f"{rng.randint(18, 75)}-year-old {job} in {rng.choice(CITIES)}", interests)
        profiles[profile.user_id] = profile
        for q in range(QUERIES_PER_PROFILE):
            pool = list(interests) if rng.random() < TOPIC_FROM_INTERESTS else categories
            topics = (rng.choice(pool),)
            if rng.random() < TWO_TOPIC_SHARE:
                topics += (rng.choice([c for c in categories if c != topics[0]]),)
            text = _query_text(topics, subjects, job, rng)
            queries.append(Query(f"query-{p + 1}-{q + 1}", profile.user_id, text, topics, "train"))
    test_ids = set(rng.sample([q.query_id for q in queries], N_TEST))
    split = {q.query_id: Query(q.query_id, q.user_id, q.text, q.topics, "test" if q.query_id in test_ids else "train")
             for q in queries}
    return World("paper", "encoder", paper_catalogue(), profiles, split, tuple(categories))


def _query_text(topics, subjects, job: str, rng: random.Random) -> str:
    first = rng.choice(subjects[topics[0]])
    if len(topics) == 1:
        return rng.choice(ONE_TOPIC).format(s=first, job=job)
    return rng.choice(TWO_TOPIC).format(s=first, s2=rng.choice(subjects[topics[1]]))
