"""The auction ingress: FastAPI on Ray Serve, composed with the policy deployment.

POST /v1/auction runs one generation, parses the mentions, prices each shown ad at its bid (first
price) and records the auction in the ledger before answering. POST /v1/clicks charges a click once.
"""
from __future__ import annotations

import secrets
import time
import uuid

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve

from auction.codec import request_to_dict, request_to_json
from auction.parser import parse_answer
from auction.payments import cost_per_click
from auction.types import Ad, AuctionRequest, Candidate, UserProfile
from serving.ledger import ClickRefused, Ledger, ShownAd
from serving.schemas import AuctionAnswer, AuctionBody, ChargeOut, ClickBody, ShownAdOut

app = FastAPI(title="LLM-Auction", description="An LLM writes the answer and runs the ad auction; first price.")


@app.exception_handler(RequestValidationError)
async def _validation_error(_: Request, err: RequestValidationError) -> JSONResponse:
    """One line per problem, `field.path: reason`, e.g. `ads.2.bid: must be a finite number ...`."""
    problems = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if p != "body"]
        message = e["msg"].removeprefix("Value error, ")
        message = message.removeprefix(f"{loc[-1]}: ") if loc else message  # the field is named once
        problems.append(f"{'.'.join(loc)}: {message}")
    return JSONResponse(status_code=422, content={"detail": problems})


def to_request(auction_id: str, body: AuctionBody) -> AuctionRequest:
    profile = body.user.profile
    user = UserProfile(body.user.id, profile.basic_info, tuple(profile.interests))
    candidates = tuple(Candidate(Ad(a.ad_id, a.title), a.bid) for a in body.ads)
    return AuctionRequest(auction_id, user, body.query, candidates)


@serve.deployment
@serve.ingress(app)
class AuctionIngress:
    def __init__(self, policy, ledger_path: str, max_candidates: int, max_query_chars: int, max_bid: float):
        self.policy, self.ledger = policy, Ledger(ledger_path)
        self.max_candidates, self.max_query_chars, self.max_bid = max_candidates, max_query_chars, max_bid

    @app.get("/healthz")
    async def healthz(self) -> dict:
        return {"status": "ok", "model_id": await self.policy.model_id.remote()}

    @app.post("/v1/auction", response_model=AuctionAnswer)
    async def auction(self, body: AuctionBody) -> AuctionAnswer:
        start = time.perf_counter()
        self._check_limits(body)
        auction_id = uuid.uuid4().hex
        request = to_request(auction_id, body)
        sampling = body.sampling.model_dump(exclude_unset=True) if body.sampling else None
        generated = await self.policy.answer.remote(request_to_json(request), sampling)
        parsed = parse_answer(generated["text"], [c.ad for c in request.candidates])
        prices = cost_per_click(parsed, request.bids())
        shown = [ShownAd(a.ad_id, a.title, request.bids()[a.ad_id], prices[a.ad_id], a.position,
                         secrets.token_urlsafe(16)) for a in parsed.inserted]
        self.ledger.record_auction(auction_id, generated["model_id"], request_to_dict(request), parsed.text, shown)
        spans = {a.ad_id: (a.start, a.end) for a in parsed.inserted}
        return AuctionAnswer(
            auction_id=auction_id, answer=parsed.text, format_errors=len(parsed.errors),
            ads=[ShownAdOut(ad_id=s.ad_id, title=s.title, bid=s.bid, cpc=s.cpc, span=spans[s.ad_id],
                            position=s.position, click_token=s.click_token) for s in shown],
            model_id=generated["model_id"], latency_ms=round(1000 * (time.perf_counter() - start), 2))

    def _check_limits(self, body: AuctionBody) -> None:
        problems = []
        if len(body.ads) > self.max_candidates:
            problems.append(f"ads: at most {self.max_candidates} candidate ads, got {len(body.ads)}")
        if len(body.query) > self.max_query_chars:
            problems.append(f"query: at most {self.max_query_chars} characters, got {len(body.query)}")
        problems += [f"ads.{i}.bid: at most {self.max_bid:g} (auction.max_bid), got {ad.bid:g}"
                     for i, ad in enumerate(body.ads) if ad.bid > self.max_bid]
        if problems:
            raise HTTPException(status_code=422, detail=problems)

    @app.post("/v1/clicks", response_model=ChargeOut)
    async def click(self, body: ClickBody) -> ChargeOut:
        try:
            charge = self.ledger.charge_click(body.auction_id, body.ad_id, body.click_token, body.idempotency_key)
        except ClickRefused as err:
            status = 404 if str(err).startswith("auction_id") else 409 if "idempotency" in str(err) else 403
            raise HTTPException(status_code=status, detail=[str(err)]) from None
        return ChargeOut(**charge.__dict__)

    @app.get("/v1/auctions/{auction_id}")
    async def get_auction(self, auction_id: str) -> dict:
        record = self.ledger.auction(auction_id)
        if record is None:
            raise HTTPException(status_code=404, detail=[f"auction_id: no auction {auction_id!r}"])
        return record
