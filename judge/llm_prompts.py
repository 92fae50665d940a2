"""The User-LLM's prompts (METHOD.md section 2, in our own words): write queries, judge clicks."""
from __future__ import annotations

from auction.parser import ParsedAnswer
from auction.types import AuctionRequest, UserProfile

CLICK_RULES = """How a real user decides, which you must follow:
- Relevance: click an item only if it fits your question, who you are, or your interests.
- Nativeness: an item dropped in abruptly, or in a sentence that has nothing to do with it, gets no click.
- Competition: of several similar or competing items, click at most one.
- Flooding: if the answer is crowded with ads or reads like advertising, click none of them."""


def _persona(user: UserProfile) -> str:
    interests = ", ".join(user.interests) if user.interests else "none given"
    return f"About you: {user.basic_info or 'no details given'}. Your interests: {interests}."


def click_messages(request: AuctionRequest, answer: ParsedAnswer) -> list[dict[str, str]]:
    """Ask the User-LLM which of the answer's inserted ads it clicks, as a strict JSON list."""
    items = "\n".join(f'- "{ad.ad_id}": {ad.title}' for ad in answer.inserted)
    example = ", ".join(f'{{"ad_id": "{ad.ad_id}", "clicked": false, "reason": "..."}}' for ad in answer.inserted)
    system = (
        "You play one specific person reading an AI assistant's answer that contains sponsored items. "
        "Stay in character and decide honestly which sponsored items you would click.\n" + CLICK_RULES
    )
    user = (
        f"{_persona(request.user)}\n\nYou asked: {request.query}\n\n"
        f"The assistant answered:\n<answer>\n{answer.text}\n</answer>\n\n"
        f"Sponsored items in the answer (ID: title):\n{items}\n\n"
        "Reply with a JSON list only, one object per sponsored item, each ID exactly once, like:\n"
        f"[{example}]"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def query_messages(user: UserProfile, n: int) -> list[dict[str, str]]:
    """Ask the User-LLM to write `n` questions this person would ask an assistant, as a JSON list."""
    return [
        {"role": "system", "content": "You play one specific person who uses an AI assistant in daily life."},
        {
            "role": "user",
            "content": f"{_persona(user)}\n\nWrite {n} different questions you would ask an AI assistant, "
            "each one sentence, about your life and interests. Reply with a JSON list of strings only.",
        },
    ]
