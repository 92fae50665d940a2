"""The auction ingress: validation, first-price payments and the ledger, composed with the policy.

An auction runs one generation, parses the mentions, prices each shown ad at its bid (first price)
and is committed to the ledger before its answer leaves. A click is charged once. The HTTP routes
are built per replica by `serving.http_api` from the configured limits.
"""
from __future__ import annotations

import asyncio
import secrets
import time
import uuid

from ray import serve

from auction.codec import request_to_dict, request_to_json
from auction.parser import parse_request_answer
from auction.payments import cost_per_click
from auction.types import Ad, AuctionRequest, Candidate, UserProfile
from serving.config import IngressSettings
from serving.engine_progress import EngineProgress
from serving.errors import EngineUnavailable, MissingCredential, UnknownAuction
from serving.ledger import ShownAd, open_ledger
from serving.schemas import (
    AdvertiserView,
    AuctionAnswer,
    AuctionBody,
    AuctionRecordOut,
    ChargeOut,
    ClickBody,
    Health,
    ShownAdOut,
)
from serving.views import advertiser_token, advertiser_tokens, advertiser_view, matches, record_view


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
        self.progress = EngineProgress()
        self.model_id = ""  # the policy's, from its latest reply

    def __serve_build_asgi_app__(self):
        from serving.http_api import build_api

        return build_api(self, self.settings.limits)

    async def health(self) -> Health:
        """Busy and replying: alive, no probe. Idle: a one-token probe (it runs at once). Busy and silent for
        longer than the timeout: the engine is stuck (503)."""
        timeout = self.settings.health_timeout_s
        state = self.progress.state(timeout)
        if state == "busy":
            return Health(status="busy", model_id=self.model_id, engine_ms=None, in_flight=self.progress.in_flight,
                          last_reply_ms=round(1000 * self.progress.silent_for(), 2))
        if state == "stuck":
            raise EngineUnavailable(f"engine: {self.progress.in_flight} calls in flight and no reply for "
                                    f"{self.progress.silent_for():.0f} s (more than {timeout:g} s)")
        try:
            with self.progress.call():
                probe = await asyncio.wait_for(self.policy.probe.remote(), timeout)
        except asyncio.TimeoutError:
            raise EngineUnavailable(f"engine: no answer to a one-token probe in {timeout:g} s") from None
        if probe.error:
            raise probe.error
        self.model_id = probe.model_id
        return Health(status="ok", model_id=probe.model_id, engine_ms=round(1000 * probe.engine_seconds, 2))

    async def auction(self, body: AuctionBody) -> AuctionAnswer:
        start = time.perf_counter()
        auction_id = uuid.uuid4().hex
        request = to_request(auction_id, body)
        sampling = body.sampling.model_dump(exclude_unset=True) if body.sampling else None
        sent = time.perf_counter()
        with self.progress.call():
            reply = await self.policy.answer.remote(request_to_json(request), sampling)
        self.model_id = reply.model_id or self.model_id
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
            model_id=reply.model_id, latency_ms=round(1000 * (time.perf_counter() - start), 2), read_token=read_token,
            advertiser_tokens=advertiser_tokens(read_token, [c.ad_id for c in request.candidates]))
        answer._server_timing = (f"engine;dur={1000 * reply.engine_seconds:.2f}, policy;dur={policy_ms:.2f}, "
                                 f"ingress;dur={answer.latency_ms:.2f}")
        return answer

    async def click(self, body: ClickBody) -> ChargeOut:
        charge = await asyncio.to_thread(self.ledger.charge_click, body.auction_id, body.ad_id, body.click_token,
                                         body.idempotency_key)
        return ChargeOut(**charge.__dict__)

    async def record(self, auction_id: str, credential: str | None) -> AuctionRecordOut:
        """The record for its read token (without the user's profile) or the operator key (whole)."""
        record = await self._readable(auction_id, credential, "READ_TOKEN` (from the auction's answer)",
                                      lambda r: r.read_token)
        return record_view(record, operator=matches(credential, self.settings.operator_key))

    async def advertiser(self, auction_id: str, ad_id: str, credential: str | None) -> AdvertiserView:
        """One candidate's view for its advertiser token (or the operator key)."""
        record = await self._readable(auction_id, credential, "ADVERTISER_TOKEN` (from the auction's answer)",
                                      lambda r: r.read_token and advertiser_token(r.read_token, ad_id))
        view = advertiser_view(record, ad_id)
        if view is None:
            raise UnknownAuction(f"ad_id: {ad_id!r} was not a candidate of auction {auction_id!r}")
        return view

    async def _readable(self, auction_id: str, credential: str | None, wanted: str, secret_of):
        """The record, when `credential` is the operator key or the record's own secret (`secret_of`); a wrong
        credential and an unknown auction look the same, so a token cannot probe for auction IDs."""
        if not credential:
            raise MissingCredential(f"authorization: send `Bearer {wanted} or the operator key")
        record = await asyncio.to_thread(self.ledger.auction, auction_id)
        if record is None or not (matches(credential, self.settings.operator_key)
                                  or matches(credential, secret_of(record))):
            raise UnknownAuction(f"auction_id: no auction {auction_id!r} readable with this credential")
        return record
