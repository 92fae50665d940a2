"""`llm-auction submit -- COMMAND ...`: run an llm-auction command as a Ray job on a cluster."""
from __future__ import annotations

import argparse
import os

from cluster.jobs import DEFAULT_DASHBOARD
from llm_auction.commands.options import with_ray_config
from llm_auction.config import ExperimentConfig


def add_parser(commands) -> None:
    submit = with_ray_config(commands.add_parser(
        "submit", help="submit an llm-auction command as a Ray job to a cluster",
        description="llm-auction submit [--address URL] [--no-wait] -- COMMAND ..."), what="runtime env")
    submit.add_argument("--address", help=f"Ray dashboard URL (default: $RAY_ADDRESS or {DEFAULT_DASHBOARD})")
    submit.add_argument("--no-wait", action="store_true", help="print the job id and return at once")
    submit.add_argument("job", nargs=argparse.REMAINDER, help="the llm-auction command to run, after --")


def run(args, config: ExperimentConfig) -> int:
    from cluster.jobs import submit
    from cluster.layout import load_layout

    command = args.job[1:] if args.job[:1] == ["--"] else args.job
    if not command:
        raise ValueError("submit: give the llm-auction command after --, e.g. `submit -- train --config FILE`")
    address = args.address or os.environ.get("RAY_ADDRESS")
    return submit(address, command, load_layout(args.ray_config), os.getcwd(), wait=not args.no_wait)
