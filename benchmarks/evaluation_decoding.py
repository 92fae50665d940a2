"""One policy evaluated under several decoding rules, as the loop evaluates a policy.

Run: .venv/bin/python benchmarks/evaluation_decoding.py --run runs/w13 --policies runs/w13/final/policy \
        models/tiny-base -- "" "temperature=0" "temperature=0.3"
Each setting is `rollout.sampling` keys (comma-separated key=value, values read as YAML; "" is the run's own).
The held-out test requests and the bid probe with the run's config, exact expected clicks; the answers per
request are the evaluation's (`--answers`; one, and one per probe point, under greedy decoding). One JSON line
per (policy, setting): efficiency, revenue, reward, related share, inserted-bid percentile, ads per answer,
two-ad share, bid slope and its standard error. The
loop samples at the rollout's rule both to explore (training) and to evaluate; this measures what another
rule at deployment would give the same policy.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cluster.layout import load_layout
from cluster.ray_session import init_ray
from irpo.loop.phase_rows import evaluation_rows
from irpo.loop.stages import StageInputs, samples_stage
from judge.environment import get_world, simulated_user
from llm_auction.config import load_config
from ablation_settings import parse_setting  # benchmarks/ablation_settings.py (a script's folder is on its path)

REPORTED = ("allocation_efficiency", "revenue_per_query", "reward_per_query", "related_share",
            "inserted_bid_percentile", "ads_per_answer", "two_ad_share", "bid_slope", "bid_slope_stderr")


def evaluate(run: Path, policy: Path, setting: dict, answers: int) -> dict:
    config = load_config(run / "config.yaml")
    sampling = type(config.rollout.sampling).model_validate({**config.rollout.sampling.model_dump(), **setting})
    rollout = config.rollout.model_copy(update={"sampling": sampling})
    greedy = sampling.temperature == 0  # one answer per request: greedy answers repeat, and vLLM refuses n > 1
    evaluation = config.irpo.evaluation.model_copy(update={"samples_per_request": 1 if greedy else answers,
                                                           **({"probe_samples": 1} if greedy else {})})
    irpo = config.irpo.model_copy(update={"evaluation": evaluation})
    layout = load_layout(Path(__file__).resolve().parents[1] / "ray_config.yaml")
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    with tempfile.TemporaryDirectory() as scratch:
        inputs = StageInputs(irpo, rollout, config.judge, config.auction, layout.roles, user, "tiny",
                             Path(scratch) / "ray")
        rows = evaluation_rows(user.world, user, evaluation, config.judge.seed)
        metrics = samples_stage(inputs, rows, policy, Path(scratch) / "eval")["metrics"]
    return {"policy": str(policy), **setting, **{k: metrics.get(k) for k in REPORTED}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True, help="the run whose config evaluates")
    parser.add_argument("--policies", type=Path, nargs="+", required=True)
    parser.add_argument("--answers", type=int, default=1, help="answers per test request")
    parser.add_argument("settings", nargs="+", help='key=value[,key=value...] of rollout.sampling ("": as run)')
    args = parser.parse_args()
    init_ray("local", None, {})
    for policy in args.policies:
        for text in args.settings:
            print(json.dumps(evaluate(args.run, policy, parse_setting(text), args.answers)), flush=True)


if __name__ == "__main__":
    main()
