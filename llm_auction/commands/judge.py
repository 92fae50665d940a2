"""`llm-auction judge`: label clicks on a file of answers with the simulated user or the LLM judge."""
from __future__ import annotations

import json

from llm_auction.commands.options import with_config
from llm_auction.config import ExperimentConfig


def add_parser(commands) -> None:
    judge = with_config(commands.add_parser("judge", help="label clicks on answers with a judge"))
    judge.add_argument("--world", help="tiny, paper or a world directory (default: judge.world)")
    judge.add_argument("--answers", required=True, help="JSONL rows {request_id, answer, bids?}")
    judge.add_argument("--out", required=True, help="JSONL output, one row per answer with its clicks")
    judge.add_argument("--judge", choices=["simulated", "llm"], help="default: judge.kind")


def run(args, config: ExperimentConfig) -> int:
    from judge.files import judge_answers_file

    judge = config.judge.model_copy(update={"world": args.world or config.judge.world,
                                            "kind": args.judge or config.judge.kind})
    print(json.dumps(judge_answers_file(args.answers, args.out, judge), indent=2))
    return 0
