"""The tiny world's closed language: categories, ads, and the templates of queries and answers.

Every word a tiny-world title, query, profile or answer can hold is in `vocabulary()` (at most ~800
words, numbers 1..100 included), so a small model trained from scratch can learn the language.
"""
from __future__ import annotations

import re

# category: (category keywords, [(ad title, ad-specific keywords), (ad title, ad-specific keywords)])
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "coffee": (("coffee", "beans", "brew", "cafe"), (("dark roast coffee beans", ("roast",)), ("steel espresso maker", ("espresso", "maker")))),
    "tea": (("tea", "leaves", "kettle", "cup"), (("green tea leaves", ("green",)), ("glass tea kettle", ("glass",)))),
    "running": (("run", "running", "race", "jog"), (("light running shoes", ("shoes",)), ("soft running socks", ("socks",)))),
    "hiking": (("hike", "hiking", "trail", "mountain"), (("trail hiking boots", ("boots",)), ("mountain day pack", ("pack", "bag")))),
    "cycling": (("bike", "cycling", "ride", "road"), (("road bike helmet", ("helmet", "safe")), ("bike repair kit", ("repair", "fix")))),
    "camping": (("camp", "camping", "tent", "outdoors"), (("two person tent", ("person",)), ("warm sleeping bag", ("warm", "sleeping")))),
    "cooking": (("cook", "cooking", "kitchen", "recipe"), (("iron frying pan", ("pan", "frying")), ("chef knife set", ("knife", "chef")))),
    "baking": (("bake", "baking", "bread", "oven"), (("bread baking tin", ("tin",)), ("stand mixer bowl", ("mixer", "bowl")))),
    "gardening": (("garden", "gardening", "plants", "soil"), (("tomato seed pack", ("tomato", "seed")), ("garden hand tools", ("tools", "hand")))),
    "music": (("music", "guitar", "piano", "song"), (("acoustic guitar strings", ("strings", "acoustic")), ("digital piano keys", ("keys", "digital")))),
    "reading": (("read", "reading", "book", "novel"), (("mystery novel box", ("mystery",)), ("soft reading lamp", ("lamp", "soft")))),
    "gaming": (("game", "gaming", "console", "player"), (("game console controller", ("controller",)), ("gaming headset pro", ("headset", "sound")))),
    "photography": (("photo", "photography", "camera", "picture"), (("compact digital camera", ("compact",)), ("wide camera lens", ("lens", "wide")))),
    "painting": (("paint", "painting", "brush", "art"), (("oil paint set", ("oil",)), ("canvas brush kit", ("canvas", "brush")))),
    "yoga": (("yoga", "stretch", "calm", "pose"), (("thick yoga mat", ("mat", "thick")), ("yoga block pair", ("block",)))),
    "swimming": (("swim", "swimming", "pool", "water"), (("swim goggles pro", ("goggles",)), ("quick dry towel", ("towel", "dry")))),
    "travel": (("travel", "trip", "flight", "hotel"), (("carry on suitcase", ("suitcase", "carry")), ("travel neck pillow", ("neck", "pillow")))),
    "pets": (("pet", "pets", "dog", "cat"), (("dog chew toy", ("toy", "chew")), ("cat scratch tower", ("scratch", "tower")))),
    "skincare": (("skin", "skincare", "face", "sun"), (("daily face cream", ("cream",)), ("sun screen lotion", ("lotion", "screen")))),
    "sleep": (("sleep", "bed", "night", "rest"), (("memory foam pillow", ("foam", "memory")), ("cotton bed sheets", ("sheets", "cotton")))),
}

AGES = ("young", "adult", "senior")
JOBS = ("student", "teacher", "nurse", "driver", "farmer", "artist", "engineer", "doctor")
PLACES = ("city", "town", "village", "coast")

# {k}: a keyword of the topic; {k2}: a keyword of the second topic.
ONE_TOPIC_QUERIES = (
    "how do i start with {k}",
    "what is a good way to get better at {k}",
    "any tips for {k} on a small budget",
    "what do i need for {k} this week",
    "how can i enjoy {k} more",
    "is {k} good for me",
)
TWO_TOPIC_QUERIES = (
    "how can i mix {k} and {k2} in one week",
    "what do i need for {k} and {k2}",
    "tips for {k} and then {k2} on the same day",
)

# Sentences a fluent answer is made of; {k} is a word of the topic, {ad} an ad mention.
ANSWER_SENTENCES = (
    "start slow with {k} and keep a simple plan",
    "a little {k} every day is better than a lot once",
    "many people find {k} easy after a few weeks",
    "ask a friend to join you for {k}",
    "keep notes on your {k} so you see progress",
    "rest well between days of {k}",
)
AD_SENTENCES = (
    "for {k} you can try {ad}",
    "{ad} is a good pick for {k}",
    "many people like {ad} for {k}",
)
NUMBER_TASK_WORDS = (
    "which", "number", "is", "larger", "smaller", "bigger", "sort", "these", "numbers", "from", "to",
    "small", "large", "copy", "item", "list", "the", "first", "last", "second", "third", "answer", "order",
    "most", "least", "than", "same", "count", "many", "items", "there", "are", "yes", "no", "of", "largest", "smallest", "goes",
    "fit",
)
FUNCTION_WORDS = (
    "a", "an", "and", "any", "are", "as", "at", "be", "better", "between", "can", "day", "days", "do", "or", "has",
    "easy", "enjoy", "every", "few", "find", "for", "friend", "from", "get", "good", "how", "i", "in",
    "is", "it", "join", "keep", "less", "like", "little", "lot", "lives", "me", "more", "my", "need",
    "notes", "of", "on", "once", "one", "people", "pick", "plan", "progress", "rest", "same", "see",
    "simple", "slow", "small", "so", "start", "tips", "the", "then", "this", "to", "try", "way",
    "week", "weeks", "well", "what", "with", "you", "your", "after", "ask", "budget", "age", "works",
    "as", "user", "query", "ads", "ad", "bid", "title", "id", "insert", "answer", "likes", "question",
)


def ad_ids() -> list[str]:
    return [f"Ad-{k + 1}" for k in range(2 * len(CATEGORIES))]


def words_of(text: str) -> list[str]:
    """The words of a tiny-language text (mentions and punctuation dropped)."""
    return re.findall(r"[a-z]+|\d+", re.sub(r"@[^@]*@\[[^\]]*\]", " ", text.lower()))


def vocabulary() -> list[str]:
    """Every word of the tiny language, numbers 1..100 included, in a fixed order."""
    words: set[str] = set(FUNCTION_WORDS) | set(NUMBER_TASK_WORDS) | set(AGES) | set(JOBS) | set(PLACES)
    for category, (keywords, ads) in CATEGORIES.items():
        words.update([category, *keywords])
        for title, specific in ads:
            words.update([*title.split(), *specific])
    for template in (*ONE_TOPIC_QUERIES, *TWO_TOPIC_QUERIES, *ANSWER_SENTENCES, *AD_SENTENCES):
        words.update(words_of(template.format(k="", k2="", ad="")))
    return sorted(words) + [str(n) for n in range(1, 101)]
