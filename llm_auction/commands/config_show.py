"""`llm-auction config show`: the experiment config after the file and the overrides."""
from __future__ import annotations

from llm_auction.commands.options import with_config
from llm_auction.config import ExperimentConfig, dump_config


def add_parser(commands) -> None:
    config = commands.add_parser("config", help="show the resolved experiment config").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    with_config(config.add_parser("show", help="print the config after the file and overrides"))


def run(args, config: ExperimentConfig) -> int:
    print(dump_config(config), end="")
    return 0
