"""The endpoint's errors as types, and the one table that gives each its HTTP status.

Every error carries one line per problem, `field: reason`, and reaches the client as
`{"detail": [lines]}` with the status of its type (never by reading the message, which may hold
user input). An error a client should simply retry later also says when, in `retry_after_s` (the
`Retry-After` header).
"""
from __future__ import annotations


class ServingError(Exception):
    """A request the endpoint refuses or could not complete; `problems` are the lines shown to the client."""

    retry_after_s: int | None = None  # set on transient errors: the seconds a client should wait

    def __init__(self, *problems: str):
        super().__init__(*problems)
        self.problems = list(problems)


class InvalidRequest(ServingError):
    """The body breaks a limit: a field out of range, too many ads, a prompt the model cannot hold."""


class MissingCredential(ServingError):
    """Reading an auction needs a credential: its read token, an ad's advertiser token or the operator key."""


class UnknownAuction(ServingError):
    """No auction with this ID (or the credential does not open it, or the ad was not its candidate)."""


class ClickRefused(ServingError):
    """The click names an ad that was not shown, or carries the wrong click token."""


class IdempotencyKeyReused(ServingError):
    """The idempotency key was already used for a different click."""


class EngineFailed(ServingError):
    """The engine raised on this request; other requests in its batch are answered."""


class EngineUnavailable(ServingError):
    """The engine did not answer in time: a one-token probe, or the requests in flight."""


class LedgerUnavailable(ServingError):
    """The ledger's database did not answer (down, restarting, or locked by another writer); retry after
    the `Retry-After` seconds."""

    retry_after_s = 2  # about what a PostgreSQL restart takes

    def __init__(self, backend: str, reason: str):
        super().__init__(f"ledger: the {backend} database is unavailable ({reason}); "
                         f"retry after {self.retry_after_s} s")
        self.backend, self.reason = backend, reason


STATUS: dict[type[ServingError], int] = {
    InvalidRequest: 422,
    MissingCredential: 401,
    ClickRefused: 403,
    UnknownAuction: 404,
    IdempotencyKeyReused: 409,
    EngineFailed: 500,
    EngineUnavailable: 503,
    LedgerUnavailable: 503,
}


def status_of(error: ServingError) -> int:
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)
