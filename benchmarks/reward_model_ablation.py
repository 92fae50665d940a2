"""Refit the pCTR model on a finished run's samples under several settings, and compare.

Run: .venv/bin/python benchmarks/reward_model_ablation.py --run runs/v5 --epoch 1 \
        encoder=all-MiniLM-L6-v2 encoder=minilm-static "encoder=minilm-static,ad_relevance=true"
Each setting is `irpo.reward_model` keys (comma-separated key=value, values read as YAML). For each: the
fit's held-out log-loss and AUC (reward rows, same splits and seed), its seconds (embedding included),
and on the epoch's policy rows the Spearman correlation of R(pCTR) with R computed from the simulated
user's exact click probabilities, the mean click probability the fit gives related and unrelated ads, and
the one it gives a related later ad of an answer that repeats the kind (category) of an ad before it or
is of a new kind (the simulated user clicks at most one ad of a kind).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from auction.metrics import spearman
from cluster.layout import load_layout
from cluster.ray_session import init_ray
from irpo.dpo.pairs import answer_rewards
from irpo.loop.driver import refit_epochs
from irpo.loop.pair_diagnostics import click_probability_by_relevance
from irpo.loop.sampling import read_samples
from irpo.loop.stages import StageInputs, reward_model_stage
from irpo.reward.click_model import click_probabilities
from irpo.reward.data import click_rows, exact_click_probs
from judge.environment import get_world, simulated_user
from llm_auction.config import load_config
from ablation_settings import parse_setting  # benchmarks/ablation_settings.py (a script's folder is on its path)


def refit(run: Path, epoch: int, setting: dict) -> dict:
    config = load_config(run / "config.yaml")
    # validated, so a value YAML reads as text (3e-3) is parsed as the field declares
    reward_model = type(config.irpo.reward_model).model_validate({**config.irpo.reward_model.model_dump(), **setting})
    irpo = config.irpo.model_copy(update={"reward_model": reward_model})
    layout = load_layout(Path(__file__).resolve().parents[1] / "ray_config.yaml")
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    samples_dir = run / f"epoch_{epoch}" / "samples"
    samples_dirs = [run / f"epoch_{e}" / "samples" for e in refit_epochs(epoch, reward_model.replay_epochs)]
    with tempfile.TemporaryDirectory() as scratch:
        inputs = StageInputs(irpo, config.rollout, config.judge, config.auction, layout.roles, user, "tiny",
                             Path(scratch) / "ray")
        start = time.perf_counter()
        fit = reward_model_stage(inputs, samples_dirs, Path(scratch) / "rm")
        seconds = time.perf_counter() - start
        policy = read_samples(samples_dir, "policy")
        rows = click_rows(policy)
        scored = click_probabilities("pctr", policy, rows, Path(scratch) / "rm", layout.roles.scorer)
        exact_p = exact_click_probs(policy, rows)
        rewards = answer_rewards(policy, scored, config.auction)
        exact = answer_rewards(policy, rows.assign(p=exact_p), config.auction)
        by_relevance = click_probability_by_relevance(scored, exact_p, user.world)
        by_kind = later_ads_by_kind(scored, exact_p, user.world)
    return {**setting, "fit_seconds": round(seconds, 1), "click_rows": fit.get("click_rows"),
            "replayed_rows": fit.get("replayed_rows"), "holdout_auc": fit.get("holdout_auc"),
            "holdout_log_loss": fit.get("holdout_log_loss"),
            "holdout_log_loss_base_rate": fit.get("holdout_log_loss_base_rate"), "best_epoch": fit.get("best_epoch"),
            "reward_vs_exact_spearman": spearman(list(rewards), list(exact)), **by_relevance, **by_kind}


def later_ads_by_kind(rows, exact_p, world) -> dict:
    """Mean click probability (the fit's, exact) of related ads after the first of their answer: of a kind
    (category) an earlier ad of the answer has, and of a new kind."""
    out = {"repeat": [], "new_kind": []}
    for _, answer in rows.assign(exact=list(exact_p)).groupby("row", sort=False):
        query, seen = world.queries[answer["request_id"].iloc[0]], set()
        for ad_id, position, p, exact in zip(answer["ad_id"], answer["position"], answer["p"], answer["exact"]):
            category = world.ads[ad_id].category
            if position > 0 and world.is_related(query, ad_id):
                out["repeat" if category in seen else "new_kind"].append((p, exact))
            seen.add(category)
    return {f"{stat}_{kind}": (round(float(sum(v[i] for v in values) / len(values)), 4) if values else None)
            for kind, values in out.items() for i, stat in enumerate(("p_later", "exact_p_later"))} | \
        {f"later_{kind}_rows": len(values) for kind, values in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--epoch", type=int, default=1)
    parser.add_argument("settings", nargs="+", help="key=value[,key=value...] of irpo.reward_model, one per fit")
    args = parser.parse_args()
    init_ray("local", None, {})
    for text in args.settings:
        setting = parse_setting(text)
        print(json.dumps(refit(args.run, args.epoch, setting)), flush=True)


if __name__ == "__main__":
    main()
