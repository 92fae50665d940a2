"""The experiment config: one section per package, loaded from YAML plus dotted overrides.

Every default lives in the package sections; this module only composes them, applies overrides,
and turns validation failures into one line per problem: `irpo.dpo.beta: must be > 0, got -1`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from auction.config import AuctionConfig
from auction.strict_config import StrictModel, describe_errors
from cluster.config import ClusterConfig
from irpo.config import IRPOConfig
from judge.config import JudgeConfig
from rollout.config import RolloutConfig
from serving.config import ServingConfig


class ExperimentConfig(StrictModel):
    run_dir: str = Field("runs/default", description="where checkpoints, data and reports go")
    auction: AuctionConfig = AuctionConfig()
    cluster: ClusterConfig = ClusterConfig()
    rollout: RolloutConfig = RolloutConfig()
    judge: JudgeConfig = JudgeConfig()
    irpo: IRPOConfig = IRPOConfig()
    serving: ServingConfig = ServingConfig()


class ConfigError(ValueError):
    """A config that cannot be used; the message names every bad key path and why."""


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Defaults, then the YAML file (if any), then `dotted.key=value` overrides, validated once."""
    raw = read_yaml(path) if path is not None else {}
    for override in overrides:
        apply_override(raw, override)
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(describe_errors(err)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set `a.b.c=value` in the nested dict; the value is read as YAML (`2`, `true`, `[1, 2]`)."""
    key, sep, text = override.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {override!r}: expected dotted.key=value")
    *parents, leaf = key.split(".")
    node = raw
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parents[: depth + 1])}: is a value, not a section (override {override!r})")
        node = child
    try:
        node[leaf] = yaml.safe_load(text)
    except yaml.YAMLError:
        node[leaf] = text


def dump_config(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
