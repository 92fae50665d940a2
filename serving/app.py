"""Build and run the Serve application: the policy deployment behind the auction ingress."""
from __future__ import annotations

import logging
from pathlib import Path

from cluster.layout import ServeRole
from rollout.config import RolloutConfig
from serving.config import ServingConfig

log = logging.getLogger(__name__)


def policy_options(role: ServeRole) -> dict:
    options: dict = {"ray_actor_options": {"num_cpus": role.cpus, "num_gpus": role.gpus}}
    if role.max_replicas and role.max_replicas > role.replicas:
        options["autoscaling_config"] = {"min_replicas": role.replicas, "max_replicas": role.max_replicas,
                                         "target_ongoing_requests": 8}
    else:
        options["num_replicas"] = role.replicas
    return options


def build_application(policy_dir: str | Path, rollout: RolloutConfig, prompt_style: str, serving: ServingConfig,
                      role: ServeRole, max_bid: float):
    from serving.ingress import AuctionIngress
    from serving.policy import PolicyDeployment

    policy = PolicyDeployment.options(**policy_options(role)).bind(str(policy_dir), rollout.model_dump(),
                                                                    prompt_style)
    ingress = AuctionIngress.options(num_replicas=role.ingress_replicas,
                                     ray_actor_options={"num_cpus": role.ingress_cpus})
    return ingress.bind(policy, str(Path(serving.ledger).resolve()), serving.max_candidates, serving.max_query_chars,
                        max_bid)


def run_server(application, host: str, port: int, blocking: bool = True) -> None:
    from ray import serve

    serve.start(http_options={"host": host, "port": port})
    serve.run(application, name="llm-auction", route_prefix="/", blocking=False)
    log.info("auction endpoint on http://%s:%d (OpenAPI docs at /docs)", host, port)
    print(f"serving on http://{host}:{port}", flush=True)
    if blocking:
        import time

        while True:
            time.sleep(3600)
