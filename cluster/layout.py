"""ray_config.yaml: the cluster address, the runtime env, and the resources of every role."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from auction.strict_config import StrictModel, describe_errors


class EngineRole(StrictModel):
    """A role that runs generation engines (rollout, judge): replicas x (cpus, gpus, TP degree)."""

    replicas: int = Field(1, ge=1)
    cpus: float = Field(1, gt=0)
    gpus: float = Field(0, ge=0)
    tensor_parallel_size: int = Field(1, ge=1)


class TrainerRole(StrictModel):
    """A Ray Train role: workers x (cpus, gpus), DeepSpeed ZeRO stage."""

    workers: int = Field(1, ge=1)
    cpus: float = Field(0.5, gt=0)
    gpus: float = Field(0, ge=0)
    zero_stage: int = Field(2, ge=0, le=3)


class ScorerRole(StrictModel):
    """Ray Data actors that score with a frozen model between stages: the reference log-probs of the DPO
    pairs and the pCTR model's text encoder. On GPU nodes give them a GPU (the reference model is the
    policy's size)."""

    replicas: int = Field(1, ge=1)
    cpus: float = Field(1, gt=0)
    gpus: float = Field(0, ge=0)


class ServeRole(StrictModel):
    """Policy replicas (an engine each) and ingress replicas (HTTP, payments, ledger) scale independently."""

    replicas: int = Field(1, ge=1, description="policy replicas; the autoscaling minimum when max_replicas is set")
    max_replicas: int | None = Field(None, ge=1, description="autoscale policy replicas up to this many")
    cpus: float = Field(0.5, gt=0)
    gpus: float = Field(0, ge=0)
    ingress_replicas: int = Field(1, ge=1)
    ingress_cpus: float = Field(0.25, gt=0)


class Roles(StrictModel):
    rollout: EngineRole = EngineRole()
    judge: EngineRole = EngineRole()
    scorer: ScorerRole = ScorerRole()
    reward_trainer: TrainerRole = TrainerRole(workers=1, zero_stage=0)
    policy_trainer: TrainerRole = TrainerRole(workers=2)
    base_trainer: TrainerRole = Field(TrainerRole(workers=1, cpus=1.5, zero_stage=0),
                                      description="SFT of the tiny base policy (`base build`)")
    serve: ServeRole = ServeRole()


class RuntimeEnv(StrictModel):
    working_dir: str | None = None
    pip: list[str] = []
    env_vars: dict[str, str] = {}


class RayLayout(StrictModel):
    address: str = "local"
    num_cpus: int | None = Field(None, ge=1)
    runtime_env: RuntimeEnv = RuntimeEnv()
    roles: Roles = Roles()


def load_layout(path: str | Path) -> RayLayout:
    """Read and validate ray_config.yaml; errors name the file and each bad key path."""
    path = Path(path)
    try:
        return RayLayout.model_validate(yaml.safe_load(path.read_text()) or {})
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except ValidationError as err:
        raise ValueError(f"{path}:\n{describe_errors(err)}") from None
