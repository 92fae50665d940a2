"""The `llm-auction` command line. Each subcommand parses its arguments and calls into a package."""
from __future__ import annotations

import argparse
import sys

from llm_auction.config import ConfigError, dump_config, load_config

# Commands whose issue has not landed yet: they say so and exit non-zero rather than pretend.
PENDING = {
    "train": "IRPO training (issue 5)",
    "evaluate": "mechanism comparison (issue 6)",
    "serve": "the Ray Serve auction endpoint (issue 7)",
    "submit": "Ray job submission (issue 8)",
    "world": "world building (issue 3)",
    "base": "base policies (issue 4)",
}

HELP = {
    "train": "run IRPO end to end (default: the embedded tiny world on a local Ray)",
    "evaluate": "compare mechanisms on a test set and write a report",
    "serve": "serve the auction endpoint with Ray Serve",
    "submit": "submit an llm-auction command as a Ray job to a cluster",
    "world": "build or inspect a simulated world",
    "base": "build or import a base policy",
    "config": "show the resolved experiment config",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-auction", description="LLM-native ad auctions trained with IRPO.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in PENDING:
        sub = commands.add_parser(name, help=HELP[name], description=HELP[name])
        sub.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    config = commands.add_parser("config", help=HELP["config"], description=HELP["config"])
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_commands.add_parser("show", help="print the config after the file and overrides")
    show.add_argument("--config", help="experiment YAML file (default: built-in defaults)")
    show.add_argument("overrides", nargs="*", metavar="dotted.key=value")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in PENDING:
        print(f"llm-auction {args.command}: not implemented yet: {PENDING[args.command]}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as err:
        print(f"llm-auction: bad config:\n{err}", file=sys.stderr)
        return 2
    print(dump_config(config), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
