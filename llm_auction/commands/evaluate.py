"""`llm-auction evaluate`: the mechanism comparison on a trained policy, written as a report."""
from __future__ import annotations

import logging
from pathlib import Path

from evaluation.compare import MECHANISMS
from llm_auction.commands.options import with_config
from llm_auction.config import ExperimentConfig
from llm_auction.logs import log_to_file

log = logging.getLogger(__name__)


def add_parser(commands) -> None:
    evaluate = with_config(commands.add_parser("evaluate", help="compare mechanisms on a test set; write a report"))
    evaluate.add_argument("--policy", help="trained policy (default: RUN_DIR/final/policy of the config's run)")
    evaluate.add_argument("--base", help="base policy (default: RUN_DIR/base, or rollout.policy)")
    evaluate.add_argument("--reward-model", help="pCTR model for MOSAIC and R (default: next to --policy)")
    evaluate.add_argument("--mechanisms", default=",".join(MECHANISMS), help="comma-separated (default: all)")
    evaluate.add_argument("--world", help="tiny, paper or a world directory (default: judge.world)")
    evaluate.add_argument("--requests", help="JSONL of auction requests (docs/EVALUATION.md); default: test split")
    evaluate.add_argument("--limit", type=int, help="evaluate the first N requests only (and probe at most N)")
    evaluate.add_argument("--judge", choices=["simulated", "llm"], help="default: judge.kind")
    evaluate.add_argument("--out", required=True, help="output directory: report.json, report.md, PNG plots")


def run(args, config: ExperimentConfig) -> int:
    from evaluation.mechanisms import Checkpoints, TestSet, evaluate_mechanisms, read_requests, test_requests
    from judge.environment import get_world, simulated_user

    run_dir = Path(config.run_dir)
    policy = Path(args.policy or run_dir / "final" / "policy")
    base = Path(args.base or config.rollout.policy or run_dir / "base")
    for flag, path in (("--policy", policy), ("--base", base)):
        if not (path / "config.json").is_file():
            raise ValueError(f"{flag}: {path} is not an HF model directory (no config.json)")
    reward_model = Path(args.reward_model) if args.reward_model else policy.parent / "reward_model"
    judge = config.judge.model_copy(update={"world": args.world or config.judge.world,
                                            "kind": args.judge or config.judge.kind})
    world = get_world(judge.world, judge.world_seed)
    requests = read_requests(args.requests, world) if args.requests else test_requests(world, judge.seed, args.limit)
    evaluation = config.irpo.evaluation
    if args.limit:  # the bid probe and the incentive audit too
        evaluation = evaluation.model_copy(update={"probe_requests": max(2, min(evaluation.probe_requests, args.limit))})
    log_to_file(Path(args.out) / "evaluate.log")
    mechanisms = [m.strip() for m in args.mechanisms.split(",") if m.strip()]
    evaluate_mechanisms(Checkpoints(policy, base, reward_model), mechanisms,
                        TestSet(simulated_user(world, judge), requests[: args.limit]), judge, config.rollout,
                        config.auction, evaluation, Path(args.out))
    log.info("report: %s (numbers: %s)", Path(args.out) / "report.md", Path(args.out) / "report.json")
    return 0
