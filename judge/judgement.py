"""Strict parsing of the User-LLM's replies: a JSON list found in the text, checked entry by entry."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class JudgementError(ValueError):
    """A reply that cannot be used; the message says why (it is kept in the failure count)."""


@dataclass(frozen=True)
class Judgement:
    clicks: dict[str, bool]
    reasons: dict[str, str] = field(default_factory=dict)


def find_json_list(text: str) -> list[Any]:
    """The first JSON list in `text`, ignoring prose or code fences around it."""
    decoder = json.JSONDecoder()
    start = text.find("[")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list):
            return value
        start = text.find("[", start + 1)
    raise JudgementError("no JSON list in the reply")


def judgement_schema(shown: tuple[str, ...]) -> dict[str, Any]:
    """JSON schema of a valid reply: one entry per shown ad, in order, each ID exactly once."""
    entry = {"type": "object", "required": ["ad_id", "clicked", "reason"], "additionalProperties": False}
    entries = [
        {**entry, "properties": {"ad_id": {"const": ad_id}, "clicked": {"type": "boolean"},
                                 "reason": {"type": "string", "maxLength": 120}}}
        for ad_id in shown
    ]
    return {"type": "array", "prefixItems": entries, "items": False, "minItems": len(shown), "maxItems": len(shown)}


def parse_judgement(text: str, shown: tuple[str, ...]) -> Judgement:
    """One entry per shown ad, each exactly once: {"ad_id": str, "clicked": bool, "reason": str?}."""
    if not shown:
        return Judgement({})
    entries = find_json_list(text)
    clicks: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise JudgementError(f"entry {index}: must be an object, got {type(entry).__name__}")
        ad_id, clicked = entry.get("ad_id"), entry.get("clicked")
        if not isinstance(ad_id, str):
            raise JudgementError(f"entry {index}: ad_id: must be a string")
        if ad_id not in shown:
            raise JudgementError(f"entry {index}: ad_id: {ad_id!r} is not an ad in the answer")
        if ad_id in clicks:
            raise JudgementError(f"entry {index}: ad_id: {ad_id!r} judged twice")
        if not isinstance(clicked, bool):
            raise JudgementError(f"entry {index}: clicked: must be true or false, got {clicked!r}")
        clicks[ad_id] = clicked
        reasons[ad_id] = str(entry.get("reason", ""))
    missing = [a for a in shown if a not in clicks]
    if missing:
        raise JudgementError(f"missing ad_ids {missing}")
    return Judgement(clicks, reasons)


def parse_queries(text: str, n: int) -> list[str]:
    """A JSON list of `n` non-empty question strings."""
    items = find_json_list(text)
    questions = [q.strip() for q in items if isinstance(q, str) and q.strip()]
    if len(questions) < n:
        raise JudgementError(f"expected {n} questions, got {len(questions)} usable ones")
    return questions[:n]
