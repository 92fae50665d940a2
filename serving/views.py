"""Who may read what of an auction record: the requester, each advertiser, the operator.

- The requester (who sent the auction) gets the auction's read token: the whole record except the user's
  profile. It already holds every candidate and bid, since it sent them.
- Each candidate's advertiser gets an advertiser token from the requester: its own ad only (its bid,
  whether and where it was shown, its charges); nothing about the other advertisers or the user.
- The operator key opens everything.

An advertiser token is derived from the read token (an HMAC of the ad ID under it), so the ledger stores
nothing new, any replica can check one, and an advertiser cannot work back to the read token or to
another advertiser's token.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from serving.ledger import AuctionRecord
from serving.schemas import AdvertiserCharge, AdvertiserView, AuctionRecordOut


def advertiser_token(read_token: str, ad_id: str) -> str:
    digest = hmac.new(read_token.encode(), f"advertiser:{ad_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def advertiser_tokens(read_token: str, ad_ids: list[str]) -> dict[str, str]:
    return {ad_id: advertiser_token(read_token, ad_id) for ad_id in ad_ids}


def matches(credential: str, secret: str | None) -> bool:
    return bool(secret) and hmac.compare_digest(credential, secret)


def record_view(record: AuctionRecord, operator: bool) -> AuctionRecordOut:
    """The operator's whole record, or the requester's: the user reduced to its ID."""
    request = dict(record.request)
    if not operator:
        request["user"] = {"user_id": request["user"]["user_id"]}
    return AuctionRecordOut(
        auction_id=record.auction_id, created=record.created, model_id=record.model_id, request=request,
        answer=record.answer, ads=record.ads, charges=record.charges,
        total_charged=sum(c["amount"] for c in record.charges))


def advertiser_view(record: AuctionRecord, ad_id: str) -> AdvertiserView | None:
    """One candidate's own view of the auction; None when `ad_id` was not a candidate."""
    candidate = next((c for c in record.request["candidates"] if c["ad_id"] == ad_id), None)
    if candidate is None:
        return None
    shown = next((a for a in record.ads if a["ad_id"] == ad_id), None)
    charges = [AdvertiserCharge(amount=c["amount"], created=c["created"]) for c in record.charges
               if c["ad_id"] == ad_id]
    return AdvertiserView(
        auction_id=record.auction_id, created=record.created, ad_id=ad_id, title=candidate["title"],
        bid=candidate["bid"], shown=shown is not None, position=shown["position"] if shown else None,
        cpc=shown["cpc"] if shown else None, charges=charges, total_charged=sum(c.amount for c in charges))
