"""Retrain one policy phase of a finished run under several DPO settings, and evaluate each result.

Run: .venv/bin/python benchmarks/policy_phase_ablation.py --run runs/w3 --epoch 2 \
        "" batch_size=8 "batch_size=8,epochs=8"
     .venv/bin/python benchmarks/policy_phase_ablation.py --run runs/w9 --epoch 1 --prompts 80 160 -- ""
Each setting is `irpo.dpo` keys (comma-separated key=value, values read as YAML; "" is the run's own).
Every setting starts from the policy the epoch started from (pi_{t-1}) and trains on the epoch's stored
pairs (same winners, losers and reference log-probs), so the settings differ only in the update. Each
result is evaluated as the loop evaluates a policy: the held-out test requests and the bid probe, exact
expected clicks. One JSON line per setting: its efficiency, revenue, reward, related share, inserted-bid
percentile, ads per answer, bid slope, the update's last-quarter statistics and its seconds.
`--prompts N ...` repeats every setting on a random N of the epoch's prompts with a pair (a learning curve
in the phase's volume: does the update generalise better from more winners?).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cluster.layout import load_layout
from cluster.ray_session import init_ray
from irpo.loop.phase_rows import evaluation_rows
from irpo.loop.run_store import RunStore
from irpo.loop.stages import StageInputs, policy_stage, samples_stage
from irpo.loop.training_run import TrainingSetup, ensure_base_policy
from judge.environment import get_world, simulated_user
from llm_auction.config import load_config
from ablation_settings import parse_setting  # benchmarks/ablation_settings.py (a script's folder is on its path)

REPORTED = ("allocation_efficiency", "revenue_per_query", "reward_per_query", "ads_per_answer", "related_share",
            "inserted_bid_percentile", "bid_slope", "bid_slope_stderr")


def start_policy(run: Path, epoch: int, config, layout) -> Path:
    """pi_{t-1}: the previous epoch's policy, or the run's pi_0 found as the run found it."""
    if epoch > 1:
        return run / f"epoch_{epoch - 1}" / "policy"
    return ensure_base_policy(TrainingSetup(config.irpo, config.rollout, config.judge, config.auction, config.cluster,
                                            layout, run, config.model_dump(mode="json")))


def subset_pairs(pairs: Path, n_prompts: int, seed: int, out: Path) -> int:
    """A copy of the stored pairs with `n_prompts` of their prompts (one record each), drawn at random."""
    table = pq.read_table(pairs / "pairs")
    keep = sorted(random.Random(seed).sample(range(table.num_rows), min(n_prompts, table.num_rows)))
    (out / "pairs").mkdir(parents=True)
    pq.write_table(table.take(pa.array(keep)), out / "pairs" / "subset.parquet")
    return len(keep)


def retrain(run: Path, epoch: int, setting: dict, eval_samples: int, n_prompts: int | None) -> dict:
    config = load_config(run / "config.yaml")
    # validated, so a value YAML reads as text (3e-3) is parsed as the field declares
    dpo = type(config.irpo.dpo).model_validate({**config.irpo.dpo.model_dump(), **setting})
    evaluation = config.irpo.evaluation.model_copy(update={"samples_per_request": eval_samples})
    irpo = config.irpo.model_copy(update={"dpo": dpo, "evaluation": evaluation})
    layout = load_layout(Path(__file__).resolve().parents[1] / "ray_config.yaml")
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    pairs = run / f"epoch_{epoch}" / "pairs"
    prompts = RunStore(run).result(f"epoch_{epoch}/pairs").result["prompts"]
    with tempfile.TemporaryDirectory() as scratch:
        if n_prompts is not None:
            prompts = subset_pairs(pairs, n_prompts, config.irpo.seed, Path(scratch) / "pairs")
            pairs = Path(scratch) / "pairs"
        inputs = StageInputs(irpo, config.rollout, config.judge, config.auction, layout.roles, user, "tiny",
                             Path(scratch) / "ray")
        start = time.perf_counter()
        trained = policy_stage(inputs, pairs, prompts, start_policy(run, epoch, config, layout),
                               Path(scratch) / "policy")
        train_seconds = time.perf_counter() - start
        rows = evaluation_rows(user.world, user, irpo.evaluation, config.judge.seed)
        metrics = samples_stage(inputs, rows, Path(scratch) / "policy", Path(scratch) / "eval")["metrics"]
    return {**setting, "prompts": prompts, "optimizer_steps": trained.get("optimizer_steps"),
            "train_seconds": round(train_seconds, 1), **{k: metrics.get(k) for k in REPORTED},
            "last_quarter": trained.get("last_quarter")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--epoch", type=int, default=1)
    parser.add_argument("--eval-samples", type=int, default=1, help="answers per test request")
    parser.add_argument("--prompts", type=int, nargs="+", default=[None],
                        help="retrain on a random N of the epoch's prompts with a pair (default: all)")
    parser.add_argument("settings", nargs="+", help='key=value[,key=value...] of irpo.dpo, one per retrain ("": as run)')
    args = parser.parse_args()
    init_ray("local", None, {})
    for text in args.settings:
        setting = parse_setting(text)
        for n_prompts in args.prompts:
            print(json.dumps(retrain(args.run, args.epoch, setting, args.eval_samples, n_prompts)), flush=True)


if __name__ == "__main__":
    main()
