"""Start or join Ray with the settings our machines need (docs/ENV.md, 'Ray 2.60 on 2 cores')."""
from __future__ import annotations

import os
from pathlib import Path

# No usage stats, no uv runtime env hook, fast Train reports (a local instance: see loopback_only).
LOCAL_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
}


def init_ray(address: str = "local", num_cpus: int | None = None, env: dict[str, str] | None = None):
    """`local` starts a private instance on this machine (or joins the cluster a Ray job runs on);
    anything else joins that cluster."""
    import ray
    import ray.data

    for key, value in LOCAL_RAY_ENV.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        return ray
    runtime_env = {"env_vars": {**LOCAL_RAY_ENV, **(env or {})}}
    if address == "local" and os.environ.get("RAY_ADDRESS"):
        # Inside a submitted Ray job: join its cluster (never start another) under the job's own
        # runtime env; passing one here too fails ("Failed to merge the Job's runtime env").
        ray.init(address=os.environ["RAY_ADDRESS"])
        return ray
    quiet = os.environ.get("LLM_AUCTION_QUIET") == "1"  # set by the CLI unless --verbose
    if address == "local":
        loopback_only()
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, runtime_env=runtime_env,
                 log_to_driver=not quiet)
    else:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=not quiet)
    if quiet:
        ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def loopback_only() -> None:
    """A private local instance serves this machine only: every Ray service listens on 127.0.0.1.

    Ray binds its servers to the node's address, which it takes to be the machine's outward IP unless
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER is 0. Ray reads that variable once, when it is first imported, so
    setting it here reaches the processes Ray starts but not this one: its constant is set as well."""
    import ray._private.ray_constants as ray_constants

    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def session_log_dir() -> Path | None:
    """Ray's log directory for this session (workers' output, vLLM, DeepSpeed), if Ray runs here."""
    import ray

    node = getattr(ray._private.worker, "_global_node", None)  # no public API for the session directory
    return Path(node.get_session_dir_path()) / "logs" if node is not None else None
