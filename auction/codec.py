"""Auction requests and parsed answers as plain JSON-able dicts: how they travel through Ray Datasets and files."""
from __future__ import annotations

import json
from typing import Any

from auction.parser import FormatError, FormatErrorKind, ParsedAnswer
from auction.types import Ad, AuctionRequest, Candidate, InsertedAd, UserProfile


def request_to_dict(request: AuctionRequest) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "user": {"user_id": request.user.user_id, "basic_info": request.user.basic_info,
                 "interests": list(request.user.interests)},
        "query": request.query,
        "candidates": [{"ad_id": c.ad_id, "title": c.ad.title, "category": c.ad.category, "bid": c.bid}
                       for c in request.candidates],
    }


def request_from_dict(data: dict[str, Any]) -> AuctionRequest:
    """Rebuild a request; every ad and bid is validated again on the way in."""
    user = data["user"]
    candidates = tuple(Candidate(Ad(c["ad_id"], c["title"], c.get("category", "")), c["bid"])
                       for c in data["candidates"])
    profile = UserProfile(user["user_id"], user.get("basic_info", ""), tuple(user.get("interests", ())))
    return AuctionRequest(data["request_id"], profile, data["query"], candidates)


def request_to_json(request: AuctionRequest) -> str:
    return json.dumps(request_to_dict(request), ensure_ascii=False)


def request_from_json(text: str) -> AuctionRequest:
    return request_from_dict(json.loads(text))


def mentions_to_dict(answer: ParsedAnswer) -> dict[str, list]:
    """What parsing found in an answer (its ads with their spans, its format errors), without the text."""
    return {"inserted": [{"ad_id": ad.ad_id, "title": ad.title, "start": ad.start, "end": ad.end}
                         for ad in answer.inserted],
            "errors": [{"kind": e.kind.value, "start": e.start, "end": e.end, "detail": e.detail} for e in answer.errors]}


def answer_from_mentions(text: str, mentions: dict[str, list]) -> ParsedAnswer:
    """The parsed answer as `mentions_to_dict` stored it: the text is not parsed again."""
    inserted = tuple(InsertedAd(ad["ad_id"], ad["title"], ad["start"], ad["end"], position)
                     for position, ad in enumerate(mentions["inserted"]))
    errors = tuple(FormatError(FormatErrorKind(e["kind"]), e["start"], e["end"], e["detail"]) for e in mentions["errors"])
    return ParsedAnswer(text, inserted, errors)
