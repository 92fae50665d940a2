"""One module per `llm-auction` subcommand: `add_parser(commands)` declares its arguments and
`run(args, config)` runs it with the typed experiment config, calling into the packages.

The order here is the order of `llm-auction --help`.
"""
from llm_auction.commands import base, config_show, evaluate, jobs, judge, serve, submit, train, world

COMMANDS = {"world": world, "base": base, "train": train, "evaluate": evaluate, "serve": serve, "submit": submit,
            "jobs": jobs, "judge": judge, "config": config_show}
