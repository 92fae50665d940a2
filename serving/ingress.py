"""The auction ingress: validation, first-price payments and the ledger, composed with the policy.

An auction runs one generation, parses the mentions, prices each shown ad at its bid (first price)
and is committed to the ledger before its answer leaves. A click is charged once. The HTTP routes
are built per replica by `serving.http_api` from the configured limits.
"""
from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import uuid

from ray import serve

from auction.codec import request_to_dict, request_to_json
from auction.parser import parse_request_answer
from auction.payments import cost_per_click
from auction.types import Ad, AuctionRequest, Candidate, UserProfile
from serving.config import IngressSettings
from serving.errors import EngineUnavailable, MissingCredential, UnknownAuction
from serving.ledger import ShownAd, open_ledger
from serving.schemas import AuctionAnswer, AuctionBody, AuctionRecordOut, ChargeOut, ClickBody, Health, ShownAdOut


def to_request(auction_id: str, body: AuctionBody) -> AuctionRequest:
    profile = body.user.profile
    user = UserProfile(body.user.id, profile.basic_info, tuple(profile.interests))
    candidates = tuple(Candidate(Ad(a.ad_id, a.title), a.bid) for a in body.ads)
    return AuctionRequest(auction_id, user, body.query, candidates)


@serve.deployment
@serve.ingress()
class AuctionIngress:
    def __init__(self, policy, settings: IngressSettings):
        self.policy, self.settings = policy, settings
        self.ledger = open_ledger(settings.ledger, settings.ledger_timeout_s)

    def __serve_build_asgi_app__(self):
        from serving.http_api import build_api

        return build_api(self, self.settings.limits)

    async def health(self) -> Health:
        try:
            probe = await asyncio.wait_for(self.policy.probe.remote(), self.settings.health_timeout_s)
        except asyncio.TimeoutError:
            raise EngineUnavailable(f"engine: no answer to a one-token probe in {self.settings.health_timeout_s:g} s"
                                    ) from None
        if probe.error:
            raise probe.error
        return Health(status="ok", model_id=probe.model_id, engine_ms=round(1000 * probe.engine_seconds, 2))

    async def auction(self, body: AuctionBody) -> AuctionAnswer:
        start = time.perf_counter()
        auction_id = uuid.uuid4().hex
        request = to_request(auction_id, body)
        sampling = body.sampling.model_dump(exclude_unset=True) if body.sampling else None
        sent = time.perf_counter()
        reply = await self.policy.answer.remote(request_to_json(request), sampling)
        policy_ms = 1000 * (time.perf_counter() - sent)
        if reply.error:
            raise reply.error
        parsed = parse_request_answer(reply.text, request)
        prices = cost_per_click(parsed, request.bids())
        shown = [ShownAd(a.ad_id, a.title, request.bids()[a.ad_id], prices[a.ad_id], a.position,
                         secrets.token_urlsafe(16)) for a in parsed.inserted]
        read_token = secrets.token_urlsafe(24)
        await asyncio.to_thread(self.ledger.record_auction, auction_id, reply.model_id, request_to_dict(request),
                                parsed.text, shown, read_token)
        spans = {a.ad_id: (a.start, a.end) for a in parsed.inserted}
        answer = AuctionAnswer(
            auction_id=auction_id, answer=parsed.text, format_errors=len(parsed.errors),
            ads=[ShownAdOut(ad_id=s.ad_id, title=s.title, bid=s.bid, cpc=s.cpc, span=spans[s.ad_id],
                            position=s.position, click_token=s.click_token) for s in shown],
            model_id=reply.model_id, latency_ms=round(1000 * (time.perf_counter() - start), 2), read_token=read_token)
        answer._server_timing = (f"engine;dur={1000 * reply.engine_seconds:.2f}, policy;dur={policy_ms:.2f}, "
                                 f"ingress;dur={answer.latency_ms:.2f}")
        return answer

    async def click(self, body: ClickBody) -> ChargeOut:
        charge = await asyncio.to_thread(self.ledger.charge_click, body.auction_id, body.ad_id, body.click_token,
                                         body.idempotency_key)
        return ChargeOut(**charge.__dict__)

    async def record(self, auction_id: str, credential: str | None) -> AuctionRecordOut:
        """The record for its read token (without the user's profile) or the operator key (whole)."""
        if not credential:
            raise MissingCredential("authorization: send `Bearer READ_TOKEN` (from the auction's answer) "
                                    "or the operator key")
        record = await asyncio.to_thread(self.ledger.auction, auction_id)
        operator = bool(self.settings.operator_key) and hmac.compare_digest(credential, self.settings.operator_key)
        if record is None or not (operator or (record.read_token and hmac.compare_digest(credential,
                                                                                         record.read_token))):
            raise UnknownAuction(f"auction_id: no auction {auction_id!r} readable with this credential")
        request = dict(record.request)
        if not operator:
            request["user"] = {"user_id": request["user"]["user_id"]}
        return AuctionRecordOut(
            auction_id=record.auction_id, created=record.created, model_id=record.model_id, request=request,
            answer=record.answer, ads=record.ads, charges=record.charges,
            total_charged=sum(c["amount"] for c in record.charges))
