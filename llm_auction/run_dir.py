"""A run directory keeps the config it was started with, so `--resume` needs nothing else."""
from __future__ import annotations

from pathlib import Path

import yaml

from llm_auction.config import ConfigError, ExperimentConfig, dump_config, load_config

CONFIG_FILE = "config.yaml"


def prepare_run_dir(run_dir: str | Path, config: ExperimentConfig, resume: bool) -> tuple[Path, ExperimentConfig]:
    """Resume: the stored config. Fresh: store this one; an existing run only continues with the same config."""
    run_dir = Path(run_dir)
    stored = run_dir / CONFIG_FILE
    if resume:
        if not stored.is_file():
            raise ConfigError(f"--resume {run_dir}: no {CONFIG_FILE} there, so it is not a run directory")
        return run_dir, load_config(stored)
    config = config.model_copy(update={"run_dir": str(run_dir)})
    if stored.is_file():
        before = yaml.safe_load(stored.read_text())
        now = config.model_dump(mode="json")
        changed = sorted(_diff(before, now))
        if changed:
            raise ConfigError(f"{run_dir} holds a run with another config (differs at {', '.join(changed)}); "
                              f"use `--resume {run_dir}` to continue it or another --run-dir")
        return run_dir, config
    run_dir.mkdir(parents=True, exist_ok=True)
    stored.write_text(dump_config(config))
    return run_dir, config


def _diff(before, now, prefix: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(now, dict):
        keys = set(before) | set(now)
        return [d for k in keys for d in _diff(before.get(k), now.get(k), f"{prefix}{k}.")]
    return [] if before == now else [prefix.rstrip(".")]
