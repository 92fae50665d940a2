"""Auction requests as plain JSON-able dicts: how they travel through Ray Datasets and files."""
from __future__ import annotations

import json
from typing import Any

from auction.types import Ad, AuctionRequest, Candidate, UserProfile


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
