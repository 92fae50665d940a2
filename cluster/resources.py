"""Turn ray_config.yaml roles into the arguments Ray Data and Ray Train take."""
from __future__ import annotations

from typing import Any

from cluster.layout import EngineRole, TrainerRole


def engine_pool_args(role: EngineRole) -> dict[str, Any]:
    """`map_batches` arguments for a pool of engine actors: one actor per replica."""
    return {"concurrency": role.replicas, "num_cpus": role.cpus, "num_gpus": role.gpus}


def scaling_config(role: TrainerRole):
    from ray.train import ScalingConfig

    resources = {"CPU": role.cpus, **({"GPU": role.gpus} if role.gpus else {})}
    return ScalingConfig(num_workers=role.workers, use_gpu=role.gpus > 0, resources_per_worker=resources)
