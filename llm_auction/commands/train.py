"""`llm-auction train`: IRPO end to end (the base policy first if absent), resumable."""
from __future__ import annotations

from pathlib import Path

from llm_auction.commands.options import with_config, with_ray_config
from llm_auction.config import ExperimentConfig
from llm_auction.logs import log_to_file


def add_parser(commands) -> None:
    train = with_ray_config(with_config(commands.add_parser(
        "train", help="run IRPO end to end (default: the embedded tiny world on a local Ray)")))
    train.add_argument("--run-dir", help="where stages, checkpoints and report.json go (default: run_dir)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run from its last completed stage")


def run(args, config: ExperimentConfig) -> int:
    from cluster.layout import load_layout
    from evaluation.after_training import ComparisonAfterTraining
    from irpo.loop.training_run import TrainingSetup, run_training
    from llm_auction.run_dir import prepare_run_dir

    layout = load_layout(args.ray_config)  # before the run directory exists: a bad layout leaves nothing behind
    run_dir, config = prepare_run_dir(args.resume or args.run_dir or config.run_dir, config, resume=bool(args.resume))
    log_to_file(Path(run_dir) / "logs" / "llm-auction.log")
    setup = TrainingSetup(config.irpo, config.rollout, config.judge, config.auction, config.cluster, layout,
                          Path(run_dir), config.model_dump(mode="json"))
    run_training(setup, after_loop=ComparisonAfterTraining(config.irpo.evaluation, config.irpo.fits_reward_model))
    return 0
