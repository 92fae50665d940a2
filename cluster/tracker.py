"""The metrics tracker: W&B with an explicit step on every call, resumable under the same run id.

The run id lives in the run directory, so a resumed run keeps logging to the same W&B run. Offline
mode (the default) needs no key and no network; `wandb sync RUN_DIR/wandb/offline-run-*` uploads later.
"""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from cluster.config import WandbConfig

log = logging.getLogger(__name__)


class Tracker:
    def __init__(self, config: WandbConfig, run_dir: Path, run_config: dict[str, Any], name: str):
        self.config = config
        self.run = None
        if config.mode == "disabled":
            return
        import wandb

        id_file = run_dir / "wandb_run_id"
        if not id_file.is_file():
            id_file.write_text(uuid.uuid4().hex[:12])
        self.run_id = id_file.read_text().strip()
        self.run = wandb.init(project=config.project, entity=config.entity, mode=config.mode, id=self.run_id,
                              resume="allow", dir=str(run_dir), config=run_config, name=name)
        log.info("W&B run %s (%s) in %s", self.run_id, config.mode, run_dir / "wandb")

    def log(self, metrics: dict[str, Any], step: int) -> None:
        if self.run is not None:
            self.run.log(metrics, step=step)

    def table(self, key: str, columns: list[str], rows: list[list], step: int) -> None:
        if self.run is not None:
            import wandb

            self.run.log({key: wandb.Table(columns=columns, data=rows)}, step=step)

    def images(self, paths: dict[str, str], step: int) -> None:
        if self.run is not None:
            import wandb

            self.run.log({key: wandb.Image(path) for key, path in paths.items()}, step=step)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
