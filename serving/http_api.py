"""The HTTP routes of one ingress replica: FastAPI over `AuctionIngress`, built from the configured limits.

Every error is a `serving.errors` type turned into its status by the one table there; the OpenAPI
schema lists, per route, each status it can answer, the body of each and the headers it sends.
"""
# No `from __future__ import annotations`: FastAPI reads the route signatures, and the request body
# type is built at run time from the limits.
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from serving.config import RequestLimits
from serving.errors import (
    STATUS,
    ClickRefused,
    EngineFailed,
    EngineUnavailable,
    IdempotencyKeyReused,
    InvalidRequest,
    LedgerUnavailable,
    MissingCredential,
    ServingError,
    UnknownAuction,
    status_of,
)
from serving.schemas import (
    AdvertiserView,
    AuctionAnswer,
    AuctionRecordOut,
    ChargeOut,
    ClickBody,
    Health,
    Problems,
    auction_body,
)

bearer = HTTPBearer(auto_error=False, description="the auction's read token, an ad's advertiser token (its own "
                    "view only), or the operator key")


def responses(*errors: type[ServingError]) -> dict:
    """OpenAPI entries for the errors a route can answer (errors sharing a status share an entry)."""
    documented: dict[int, dict] = {}
    for error in errors:
        entry = documented.setdefault(STATUS[error], {"model": Problems, "description": ""})
        entry["description"] = " ".join(filter(None, (entry["description"], error.__doc__.strip())))
        if error.retry_after_s is not None:
            entry["headers"] = {"Retry-After": {"description": "seconds to wait before retrying",
                                                "schema": {"type": "integer"}}}
    return documented


def headers_of(error: ServingError) -> dict[str, str] | None:
    """A 401 names its scheme (RFC 9110); an error that passes says when to retry."""
    if status_of(error) == 401:
        return {"WWW-Authenticate": "Bearer"}
    if error.retry_after_s is not None:
        return {"Retry-After": str(error.retry_after_s)}
    return None


def problem_lines(err: RequestValidationError) -> list[str]:
    """One line per problem, `field.path: reason`, e.g. `ads.2.bid: Input should be greater than 0`."""
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if p != "body"]
        if e["type"] == "json_invalid":  # its location is a character offset, not a field
            lines.append(f"body: {e['msg']} at character {loc[-1] if loc else 0}")
            continue
        message = e["msg"].removeprefix("Value error, ")
        message = message.removeprefix(f"{loc[-1]}: ") if loc else message  # the field is named once
        lines.append(f"{'.'.join(loc) or 'body'}: {message}")
    return lines


def build_api(ingress, limits: RequestLimits) -> FastAPI:
    app = FastAPI(title="LLM-Auction",
                  description="An LLM writes the answer and runs the ad auction; first price, per click.")
    body_type = auction_body(limits)

    @app.exception_handler(ServingError)
    async def _typed(_: Request, err: ServingError) -> JSONResponse:
        return JSONResponse(status_code=status_of(err), content={"detail": err.problems}, headers=headers_of(err))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": problem_lines(err)})

    @app.exception_handler(HTTPException)
    async def _framework(_: Request, err: HTTPException) -> JSONResponse:
        """FastAPI's own refusals in the same shape; a body it cannot parse (e.g. JSON nested too deeply)
        is a 422 like any other bad body."""
        if err.status_code == 400:
            return JSONResponse(status_code=422, content={"detail": [f"body: {err.detail}"]})
        return JSONResponse(status_code=err.status_code, content={"detail": [str(err.detail)]},
                            headers=getattr(err, "headers", None))

    @app.get("/healthz", response_model=Health, responses=responses(EngineUnavailable, EngineFailed))
    async def healthz() -> Health:
        """Ready when the engine answers a one-token probe."""
        return await ingress.health()

    @app.post("/v1/auction", response_model=AuctionAnswer,
              responses=responses(InvalidRequest, EngineFailed, LedgerUnavailable))
    async def auction(body: body_type, response: Response) -> AuctionAnswer:  # type: ignore[valid-type]
        """Server-Timing: the engine's time, the call to the policy replica, and the whole ingress handler."""
        answer = await ingress.auction(body)
        response.headers["Server-Timing"] = answer._server_timing
        return answer

    @app.post("/v1/clicks", response_model=ChargeOut,
              responses=responses(InvalidRequest, ClickRefused, UnknownAuction, IdempotencyKeyReused,
                                   LedgerUnavailable))
    async def click(body: ClickBody) -> ChargeOut:
        return await ingress.click(body)

    @app.get("/v1/auctions/{auction_id}", response_model=AuctionRecordOut,
             responses=responses(InvalidRequest, MissingCredential, UnknownAuction, LedgerUnavailable))
    async def record(auction_id: str,
                     credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> AuctionRecordOut:
        return await ingress.record(auction_id, credentials.credentials if credentials else None)

    @app.get("/v1/auctions/{auction_id}/ads/{ad_id}", response_model=AdvertiserView,
             responses=responses(InvalidRequest, MissingCredential, UnknownAuction, LedgerUnavailable))
    async def advertiser(auction_id: str, ad_id: str,
                         credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> AdvertiserView:
        """An advertiser's view of its own ad: bid, shown or not, where, its charges."""
        return await ingress.advertiser(auction_id, ad_id, credentials.credentials if credentials else None)

    return app
