"""The tiny base policy's pre-training corpus, in the tiny language.

Two kinds of chats. Auction answers: fluent sentences about the query's topic with 1 to 3 ads that
relate to the query or the user, picked at random among those, sometimes one unrelated ad (bids and
the cost of an ad ignored; a few format errors) -- like a pre-trained assistant, the base policy knows
language and relevance, not the auction. General tasks: comparing, ordering and copying numbers and items,
and reading bids and titles off an auction prompt -- understanding, with no preference for high bids.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from auction.parser import render_mention
from judge.bids import draw_bids
from judge.tiny_language import AD_SENTENCES, ANSWER_SENTENCES, CATEGORIES
from judge.tiny_world import fresh_requests
from judge.world import Query, World
from rollout.prompt import ad_llm_messages

TASK_SYSTEM = "answer the question ."
ORDINALS = {"first": 0, "second": 1, "third": 2, "last": -1}
LIST_WORDS = sorted({w for keywords, _ in CATEGORIES.values() for w in keywords})


@dataclass(frozen=True)
class Example:
    """A chat: `messages` then the supervised `answer`, then follow-up (question, answer) turns, each
    answer supervised too. Follow-ups reuse the first prompt: many answers for the price of one prompt."""

    messages: tuple[dict, ...]
    answer: str
    kind: str
    followups: tuple[tuple[str, str], ...] = ()


def held_out_pair(a: int, b: int) -> bool:
    """One number pair in ten never appears in training: the comparison test set."""
    return int(hashlib.sha256(f"{min(a, b)}|{max(a, b)}".encode()).hexdigest(), 16) % 10 == 0


@dataclass(frozen=True)
class AnswerStyle:
    """How the corpus's auction answers pick and write their ads: what the base learns to imitate.

    `distinct_categories`: the ads of one answer come from different categories, as an assistant that
    knows language recommends complementary products rather than two of the same kind (the simulated
    user clicks at most one ad per category). The count stays 1-3 at random and the bids unseen.
    `no_fit_ad_share`: where no candidate relates to the query or the user, the share of answers that
    insert an unrelated ad anyway (the rest insert none)."""

    error_rate: float = 0.02
    unrelated_share: float = 0.1
    distinct_categories: bool = False
    no_fit_ad_share: float = 1.0


def base_ads(world: World, query: Query, rng: random.Random, style: AnswerStyle) -> list[str]:
    """What a pre-trained assistant inserts: 1-3 related candidates at random (bids and click rates
    unseen; with `style.distinct_categories` at most one per category), sometimes one unrelated ad as well;
    one unrelated ad or none (`style.no_fit_ad_share`) when no candidate is related."""
    candidates = world.candidate_ids(query)
    related = [a for a in candidates if world.is_related(query, a)]
    others = [a for a in candidates if a not in related]
    wanted = rng.choice([1, 2, 3])
    if style.distinct_categories:
        rng.shuffle(related)
        first_of_category: dict[str, str] = {}
        for ad_id in related:
            first_of_category.setdefault(world.ads[ad_id].category, ad_id)
        chosen = list(first_of_category.values())[:wanted]
    else:
        chosen = rng.sample(related, min(wanted, len(related)))
    if others and _adds_unrelated(bool(chosen), rng, style):
        chosen.append(rng.choice(others))
    rng.shuffle(chosen)
    return chosen


def _adds_unrelated(has_related: bool, rng: random.Random, style: AnswerStyle) -> bool:
    # No draw where the shipped corpus drew none (no related ad, always one unrelated): its builds repeat.
    if has_related:
        return rng.random() < style.unrelated_share
    return style.no_fit_ad_share >= 1 or rng.random() < style.no_fit_ad_share


def base_answer(world: World, query: Query, rng: random.Random, style: AnswerStyle) -> str:
    return answer_with_ads(world, query, base_ads(world, query, rng, style), rng, style.error_rate)


def answer_with_ads(world: World, query: Query, ad_ids, rng: random.Random, error_rate: float = 0.0) -> str:
    """A fluent answer on the query's topic with `ad_ids` inserted natively, in that order (a sentence
    naming a keyword of the ad's category); with `error_rate`, a mention is sometimes broken."""
    keyword = rng.choice(CATEGORIES[query.topics[0]][0])
    sentences = [rng.choice(ANSWER_SENTENCES).format(k=keyword) for _ in range(rng.choice([1, 2]))]
    slot = 0
    for ad_id in ad_ids:
        ad = world.ads[ad_id]
        sentence = rng.choice(AD_SENTENCES).format(k=rng.choice(ad.keywords[:4]), ad=render_mention(ad.as_ad()))
        if rng.random() < error_rate:
            sentence = sentence.replace(f"[{ad_id}]", "")
        slot = rng.randrange(slot, len(sentences) + 1)  # after the ads before it: the order is kept
        sentences.insert(slot, sentence)
        slot += 1
    return " . ".join(sentences) + " ."


def auction_example(world: World, query: Query, rng: random.Random, style: AnswerStyle) -> Example:
    """An auction answer, then one to three questions about the same prompt (`reading_questions`)."""
    bids = draw_bids(rng.randrange(10**6), "sft", 0, query.query_id, world.candidate_ids(query))
    messages = ad_llm_messages(world.request(query, bids), "tiny")
    followups = tuple(reading_question(world, query, bids, rng) for _ in range(rng.choice([1, 2, 3])))
    return Example(tuple(messages), base_answer(world, query, rng, style), "auction", followups)


def _task(question: str, answer: str, kind: str) -> Example:
    return Example(({"role": "system", "content": TASK_SYSTEM}, {"role": "user", "content": question}), answer, kind)


def number_pair(rng: random.Random, held_out: bool = False) -> tuple[int, int]:
    while True:
        a, b = rng.sample(range(1, 101), 2)
        if held_out_pair(a, b) == held_out:
            return a, b


def compare_example(rng: random.Random, held_out: bool = False) -> Example:
    a, b = number_pair(rng, held_out)
    word, pick = rng.choice([("larger", max), ("bigger", max), ("smaller", min)])
    return _task(f"which number is {word} {a} or {b}", str(pick(a, b)), "compare")


def list_example(rng: random.Random) -> Example:
    numbers = rng.sample(range(1, 101), rng.choice([3, 4, 5]))
    shown = " ".join(map(str, numbers))
    choice = rng.randrange(4)
    if choice == 0:
        return _task(f"which number is larger of these {shown}", str(max(numbers)), "extreme")
    if choice == 1:
        return _task(f"which number is smaller of these {shown}", str(min(numbers)), "extreme")
    descending = choice == 3
    order = "from large to small" if descending else "from small to large"
    return _task(f"sort these numbers {order} {shown}", " ".join(map(str, sorted(numbers, reverse=descending))), "sort")


def copy_example(rng: random.Random) -> Example:
    items = rng.sample(LIST_WORDS, rng.choice([3, 4, 5]))
    ordinal = rng.choice(list(ORDINALS))
    return _task(f"copy the {ordinal} item of the list {' '.join(items)}", items[ORDINALS[ordinal]], "copy")


def repeat_example(world: World, rng: random.Random) -> Example:
    """Repeat a list of words or ad titles verbatim: multi-token copying from the prompt."""
    if rng.random() < 0.5:
        items = rng.sample(LIST_WORDS, rng.choice([3, 4, 5, 6]))
    else:
        items = [world.ads[a].title for a in rng.sample(list(world.ads), rng.choice([2, 3]))]
    return _task(f"copy the list {' , '.join(items)}", " , ".join(items), "repeat")


def association_example(world: World, rng: random.Random) -> Example:
    """Which words belong together: a word of a topic -> a keyword of it, an ad's mention -> a keyword
    of its category. A pre-trained LLM knows this; fluent answers (on topic, around the right ad) need it."""
    if rng.random() < 0.5:
        keywords, pairs = CATEGORIES[rng.choice(list(CATEGORIES))]
        word = rng.choice([*keywords, *(w for _, specific in pairs for w in specific)])
        return _task(f"what goes with {word}", rng.choice(keywords), "associate")
    ad = world.ads[rng.choice(list(world.ads))]
    name = render_mention(ad.as_ad()) if rng.random() < 0.5 else ad.title  # as an answer writes it, as a prompt lists it
    return _task(f"what is {name} for", rng.choice(CATEGORIES[ad.category][0]), "associate")


def reading_question(world: World, query: Query, bids: dict[str, float], rng: random.Random) -> tuple[str, str]:
    """A question about an auction prompt and its answer: which ad has the largest or the smallest bid
    (both equally often: comprehension, no preference), or which ads fit the question or the user."""
    if rng.random() < 0.5:
        word, pick = rng.choice([("largest", max), ("smallest", min)])
        best = pick(bids.values())
        if sum(v == best for v in bids.values()) == 1:
            # Named by its mention, the token an answer would write: reading a bid reaches the mention.
            ad = world.ads[next(a for a, v in bids.items() if v == best)]
            return f"question : which ad has the {word} bid", render_mention(ad.as_ad())
    # What a fluent assistant knows: which candidates relate to the question, and to the user.
    about = rng.choice(["question", "user"])
    wanted = query.topics if about == "question" else world.profiles[query.user_id].interests
    fits = [a for a in world.candidate_ids(query) if world.ads[a].category in wanted]
    return f"question : which ads fit the {about}", " , ".join(render_mention(world.ads[a].as_ad()) for a in fits) or "no"


# How the non-auction share splits among the tasks. Comparisons dominate: a few-million-parameter
# model needs tens of thousands of them before it attends to the numbers at all (measured: none right
# after 8k, 88% right after 32k), and they are short, so they cost little under length bucketing.
# Repeating a whole list teaches multi-token copying, which writing a title verbatim needs. Without
# the association task the answers' words were unrelated to the query and the ad (5% on the right
# keyword: 7% of mentions native), so no inserted ad earned its cost.
TASK_MIX = (("compare", 0.7), ("list", 0.06), ("copy", 0.06), ("repeat", 0.08), ("associate", 0.1))


def sft_examples(world: World, n: int, seed: int, auction_share: float = 0.1, style: AnswerStyle = AnswerStyle(),
                 fresh_queries: bool = False) -> Iterator[Example]:
    """`n` training chats from the world's train split and the general tasks; with `fresh_queries`, each
    auction chat is a request of its own drawn like the world's (judge.tiny_world.fresh_requests)."""
    rng = random.Random(seed)
    train = world.split("train")
    fresh = fresh_requests(world, rng)
    makers = {
        "compare": lambda: compare_example(rng),
        "list": lambda: list_example(rng),
        "copy": lambda: copy_example(rng),
        "repeat": lambda: repeat_example(world, rng),
        "associate": lambda: association_example(world, rng),
    }
    for _ in range(n):
        roll = rng.random()
        if roll < auction_share:
            query = next(fresh) if fresh_queries else rng.choice(train)
            yield auction_example(world, query, rng, style)
            continue
        roll = (roll - auction_share) / (1 - auction_share)
        for kind, share in TASK_MIX:
            roll -= share
            if roll < 0:
                break
        yield makers[kind]()
