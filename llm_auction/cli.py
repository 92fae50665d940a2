"""The `llm-auction` command line: global flags, then one subcommand from `llm_auction.commands`."""
from __future__ import annotations

import argparse
import logging
import sys

from llm_auction.commands import COMMANDS
from llm_auction.config import ConfigError, load_config
from llm_auction.logs import configure_logging
from llm_auction.paths import project_file

log = logging.getLogger("llm_auction.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-auction", description="LLM-native ad auctions trained with IRPO.")
    parser.add_argument("--verbose", action="store_true", help="show every library's log lines and Ray workers' "
                        "output on the terminal (default: the project's progress only; the rest in RUN_DIR/logs)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag in ("config", "ray_config"):
        if getattr(args, flag, None):
            setattr(args, flag, str(project_file(getattr(args, flag))))
    configure_logging(args.verbose or args.command == "serve")  # a server shows its replicas' output
    try:
        config = load_config(getattr(args, "config", None), getattr(args, "overrides", []))
    except ConfigError as err:
        print(f"llm-auction: bad config:\n{err}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command].run(args, config)
    except (ValueError, OSError) as err:
        print(f"llm-auction {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
