"""Cluster section: where Ray runs and where metrics go."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from auction.strict_config import StrictModel


class WandbConfig(StrictModel):
    project: str = "llm-auction"
    entity: str | None = None
    # offline needs no key and no network; `online` is for clusters with WANDB_API_KEY set.
    mode: Literal["offline", "online", "disabled"] = "offline"


class ClusterConfig(StrictModel):
    address: str = Field("local", description="'local' starts Ray in-process; else a ray:// or head address")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray instance (None: all)")
    wandb: WandbConfig = WandbConfig()
