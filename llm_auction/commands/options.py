"""Arguments several subcommands share."""
from __future__ import annotations

import argparse


def with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", help="experiment YAML file (default: built-in defaults)")
    parser.add_argument("overrides", nargs="*", metavar="dotted.key=value", help="config overrides")
    return parser


def with_ray_config(parser: argparse.ArgumentParser, what: str = "cluster layout") -> argparse.ArgumentParser:
    parser.add_argument("--ray-config", default="ray_config.yaml", help=f"{what} (default: ray_config.yaml)")
    return parser
