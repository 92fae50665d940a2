"""Config plumbing every package shares: strict pydantic models and one-line error messages."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def describe_error(error: dict[str, Any]) -> str:
    """One pydantic error as `key.path: reason, got value`."""
    path = ".".join(str(part) for part in error["loc"]) or "<root>"
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"{path}: must be {_BOUNDS[kind]} {_plain(bound)}, got {_plain(value)}"
    if kind == "extra_forbidden":
        return f"{path}: unknown key"
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "literal_error":
        return f"{path}: must be one of {ctx.get('expected')}, got {value!r}"
    return f"{path}: {error['msg'][0].lower()}{error['msg'][1:]}, got {value!r}"


def _plain(value: Any) -> Any:
    """Numbers as a person writes them: 0 rather than 0.0."""
    return f"{value:g}" if isinstance(value, float) else value


def describe_errors(err: ValidationError) -> str:
    """Every problem of a failed validation, one `key.path: reason` line each."""
    return "\n".join(describe_error(e) for e in err.errors())
