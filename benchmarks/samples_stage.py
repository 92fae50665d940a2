"""The IRPO samples stage's generation rate (rollout + judge + parquet, as the loop runs it) under several
rollout batch sizes and row orders, back to back in one Ray session.

    .venv/bin/python benchmarks/samples_stage.py --policy models/tiny-base [--batches 32,128] [--epoch 1]
Rows: epoch 1's reward and policy rows of the default config plus the held-out eval and probe rows.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.layout import load_layout  # noqa: E402
from cluster.ray_session import init_ray  # noqa: E402
from irpo.loop.phase_rows import evaluation_rows, training_rows  # noqa: E402
from irpo.loop.sampling import sample_and_judge  # noqa: E402
from judge.environment import get_world, simulated_user  # noqa: E402
from llm_auction.config import ExperimentConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--batches", default="32,128", help="rollout batch sizes (rows per engine call) to compare")
    parser.add_argument("--epoch", type=int, default=1)
    args = parser.parse_args()
    config = ExperimentConfig()
    layout = load_layout(ROOT / "ray_config.yaml")
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    world = get_world(config.judge.world, config.judge.world_seed)
    user = simulated_user(world, config.judge)
    rows = evaluation_rows(world, user, config.irpo.evaluation, config.judge.seed)
    rows += training_rows(world, config.irpo, args.epoch, config.judge.seed)
    print("| rollout batch (rows per engine call) | answers | tokens | seconds | tokens/s |\n|---|---|---|---|---|")
    for batch in (int(b) for b in args.batches.split(",")):
        with tempfile.TemporaryDirectory() as out:
            result, _ = sample_and_judge(rows, args.policy, config.rollout, "tiny", config.judge, layout.roles,
                                         Path(out), rollout_batch=batch)
        print(f"| {batch} | {result['answers']} | {result['tokens']} | {result['seconds']:.1f} | "
              f"{result['tokens_per_second']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
