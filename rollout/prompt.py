"""The Ad-LLM prompt (METHOD.md section 2, in our own words): profile, query, candidates with bids, rules.

Two renderings of the same content: `full` for real instruction-tuned models (English rules), and
`tiny` for the tiny world's closed language (the same fields, rules in its own words). Either goes
through the model's chat template (`Engine.chat_prompt`).
"""
from __future__ import annotations

import json
from typing import Literal

from auction.types import AuctionRequest

PromptStyle = Literal["full", "tiny"]

FULL_RULES = """You are a helpful assistant whose answers may carry sponsored products.
Answer the user's question well first. You may weave zero, one or several of the candidate ads below
into the answer, wherever they fit naturally. Insert an ad only as @Ad Title@[Ad ID], copying its title
and ID exactly, and never invent one. Each ad has a bid: what its advertiser pays if the user clicks.
Balance revenue against the user's experience: irrelevant, abrupt or too many ads get no clicks."""

TINY_RULES = "answer the question . you can insert ads as @ title @ [ id ] ."


def resolve_style(configured: str, world_name: str) -> PromptStyle:
    """`auto` picks the tiny rendering for the tiny world and the full one for everything else."""
    if configured != "auto":
        return configured  # type: ignore[return-value]
    return "tiny" if world_name == "tiny" else "full"


def candidate_lines(request: AuctionRequest) -> list[str]:
    """One JSON object per candidate: {"Ad ID", "Ad Title", "Ad Bid"} (bids shown as plain numbers), highest
    bid first (ties in request order).

    Ours: the paper lists the candidates without saying in which order. Listed by bid, a small model
    sees an ad's bid in where its line stands, not only in a number it must look up by the ad's ID:
    the tiny policy never learnt such look-ups in its training budget (docs/EXPERIMENTS.md).
    """
    ranked = sorted(request.candidates, key=lambda c: -c.bid)
    return [
        json.dumps({"Ad ID": c.ad_id, "Ad Title": c.ad.title, "Ad Bid": _number(c.bid)}, ensure_ascii=False,
                   separators=(",", ":"))
        for c in ranked
    ]


def _number(bid: float) -> int | float:
    return int(bid) if float(bid).is_integer() else round(bid, 2)


def ad_llm_messages(request: AuctionRequest, style: PromptStyle = "full") -> list[dict]:
    """Chat messages asking the policy to answer `request` with ads inserted as it sees fit."""
    user, ads = request.user, "\n".join(candidate_lines(request))
    if style == "tiny":
        content = (f"user : {user.basic_info} , likes {' '.join(user.interests)} .\n"
                   f"question : {request.query} .\nads :\n{ads}")
        messages = [{"role": "system", "content": TINY_RULES}, {"role": "user", "content": content}]
    else:
        interests = ", ".join(user.interests) or "none given"
        content = (f"User profile: {user.basic_info or 'not given'}. Interests: {interests}.\n"
                   f"Question: {request.query}\nCandidate ads, one JSON object per line:\n{ads}")
        messages = [{"role": "system", "content": FULL_RULES}, {"role": "user", "content": content}]
    return messages
