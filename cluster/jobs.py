"""Ray job submission: run an `llm-auction` command on a cluster, stream its logs, list and stop jobs.

The job's runtime env comes from ray_config.yaml (working dir, pip requirements, env vars); the
working dir is uploaded without the local venv, runs, caches and VCS data.
"""
from __future__ import annotations

import asyncio
import shlex
import sys
import time
from typing import Any

from cluster.layout import RayLayout

DEFAULT_DASHBOARD = "http://127.0.0.1:8265"
UPLOAD_EXCLUDES = [".venv", "runs", ".git", ".whl", "**/__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info"]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def client(address: str | None):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address or DEFAULT_DASHBOARD)


def job_runtime_env(layout: RayLayout, working_dir: str) -> dict[str, Any]:
    env = layout.runtime_env
    runtime_env: dict[str, Any] = {"working_dir": env.working_dir or working_dir, "excludes": UPLOAD_EXCLUDES,
                                   "env_vars": dict(env.env_vars)}
    if env.pip:
        runtime_env["pip"] = list(env.pip)
    return runtime_env


def submit(address: str | None, command: list[str], layout: RayLayout, working_dir: str, wait: bool) -> int:
    """Submit `llm-auction COMMAND...`; with `wait`, stream its logs and return 0 only if it succeeded."""
    jobs = client(address)
    entrypoint = "llm-auction " + " ".join(shlex.quote(part) for part in command)
    job_id = submit_when_ready(jobs, entrypoint, job_runtime_env(layout, working_dir))
    print(f"submitted {job_id}: {entrypoint}", file=sys.stderr, flush=True)
    if not wait:
        print(job_id)
        return 0
    status = follow(jobs, job_id)
    print(f"job {job_id} {status}", file=sys.stderr)
    return 0 if status == "SUCCEEDED" else 1


def submit_when_ready(jobs, entrypoint: str, runtime_env: dict, patience_s: float = 120) -> str:
    """A head that has just started drops connections, then answers "No available agent" until its job
    agent is up: retry those for a while; any other error is final."""
    deadline = time.time() + patience_s
    while True:
        try:
            return jobs.submit_job(entrypoint=entrypoint, runtime_env=runtime_env)
        except (RuntimeError, OSError) as err:
            starting = isinstance(err, OSError) or "No available agent" in str(err)
            if not starting or time.time() > deadline:
                raise
            time.sleep(2)


def follow(jobs, job_id: str) -> str:
    """Print the job's logs as they come; returns its final status."""
    async def stream() -> None:
        async for lines in jobs.tail_job_logs(job_id):
            print(lines, end="", flush=True)

    asyncio.run(stream())
    status = str(jobs.get_job_status(job_id).value)
    while status not in TERMINAL:  # the log stream can close a moment before the status settles
        time.sleep(0.5)
        status = str(jobs.get_job_status(job_id).value)
    return status


def list_jobs(address: str | None) -> list[dict[str, Any]]:
    return [{"job_id": job.submission_id, "status": str(job.status.value), "entrypoint": job.entrypoint,
             "start_time": job.start_time, "end_time": job.end_time}
            for job in client(address).list_jobs() if job.submission_id]


def stop_job(address: str | None, job_id: str) -> bool:
    return bool(client(address).stop_job(job_id))
