"""`llm-auction jobs list|follow|stop`: the Ray jobs submitted to a cluster."""
from __future__ import annotations

import json
import os

from cluster.jobs import DEFAULT_DASHBOARD
from llm_auction.config import ExperimentConfig


def add_parser(commands) -> None:
    jobs = commands.add_parser("jobs", help="list, follow or stop submitted jobs")
    jobs.add_argument("action", choices=["list", "follow", "stop"])
    jobs.add_argument("job_id", nargs="?", help="for follow and stop")
    jobs.add_argument("--address", help=f"Ray dashboard URL (default: $RAY_ADDRESS or {DEFAULT_DASHBOARD})")


def run(args, config: ExperimentConfig) -> int:
    from cluster.jobs import client, follow, list_jobs, stop_job

    address = args.address or os.environ.get("RAY_ADDRESS")
    if args.action == "list":
        print(json.dumps(list_jobs(address), indent=2))
        return 0
    if not args.job_id:
        raise ValueError(f"jobs {args.action}: give a job id (see `llm-auction jobs list`)")
    if args.action == "stop":
        print(json.dumps({"job_id": args.job_id, "stopped": stop_job(address, args.job_id)}))
        return 0
    return 0 if follow(client(address), args.job_id) == "SUCCEEDED" else 1
