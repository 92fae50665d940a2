"""Build and run the Serve application: the policy deployment behind the auction ingress."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from cluster.layout import ServeRole
from rollout.config import RolloutConfig
from serving.config import IngressSettings, RequestLimits, ServingConfig

log = logging.getLogger(__name__)
INGRESS_MAX_ONGOING = 1024  # requests one ingress replica holds at once (each awaits, none computes)


def policy_options(role: ServeRole) -> dict:
    options: dict = {"ray_actor_options": {"num_cpus": role.cpus, "num_gpus": role.gpus}}
    if role.max_replicas and role.max_replicas > role.replicas:
        options["autoscaling_config"] = {"min_replicas": role.replicas, "max_replicas": role.max_replicas,
                                         "target_ongoing_requests": 8}
    else:
        options["num_replicas"] = role.replicas
    return options


def ingress_settings(serving: ServingConfig, max_bid: float) -> IngressSettings:
    """What each ingress replica needs; a SQLite path is made absolute, since replicas run elsewhere."""
    ledger = serving.ledger if "://" in serving.ledger else str(Path(serving.ledger).resolve())
    limits = RequestLimits(serving.max_candidates, serving.max_query_chars, max_bid)
    return IngressSettings(ledger, limits, os.environ.get(serving.operator_key_env) or None, serving.health_timeout_s,
                           serving.ledger_timeout_s)


def build_application(policy_dir: str | Path, rollout: RolloutConfig, prompt_style: str, serving: ServingConfig,
                      role: ServeRole, max_bid: float):
    from serving.ingress import AuctionIngress
    from serving.policy import PolicyDeployment

    policy = PolicyDeployment.options(**policy_options(role)).bind(
        str(policy_dir), rollout.model_dump(), prompt_style, health_timeout_s=serving.health_timeout_s)
    # The ingress only awaits the policy and the ledger, so it takes a whole burst at once: requests then wait
    # in the policy's queue, not in the HTTP proxy's, and /healthz is never queued behind them.
    ingress = AuctionIngress.options(num_replicas=role.ingress_replicas, max_ongoing_requests=INGRESS_MAX_ONGOING,
                                     ray_actor_options={"num_cpus": role.ingress_cpus})
    return ingress.bind(policy, ingress_settings(serving, max_bid))


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
