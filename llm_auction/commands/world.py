"""`llm-auction world build`: write a built-in world as JSONL files and its report."""
from __future__ import annotations

import json

from llm_auction.commands.options import with_config
from llm_auction.config import ExperimentConfig


def add_parser(commands) -> None:
    world = commands.add_parser("world", help="build a simulated world").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    build = with_config(world.add_parser("build", help="write a built-in world as JSONL files + report.json"))
    build.add_argument("--world", choices=["tiny", "paper"], default="tiny")
    build.add_argument("--seed", type=int, default=None, help="world seed (default: judge.world_seed)")
    build.add_argument("--out", required=True, help="output directory")


def run(args, config: ExperimentConfig) -> int:
    from judge.files import write_world

    seed = config.judge.world_seed if args.seed is None else args.seed
    report = write_world(args.world, args.out, seed, config.judge, config.auction)
    print(json.dumps(report, indent=2))
    return 0
