"""Each IRPO stage wired to the run's config: given its inputs and a scratch directory to write into, it
calls its role's code (rollout and judge, irpo.reward, irpo.dpo) and returns the stage's result.

samples:      one rollout pass of pi_{t-1} (reward, policy, eval and probe rows) -> judged parquet
reward_model: fit pCTR on the reward rows' clicks (irpo.reward.refit); held-out log-loss and AUC
pairs:        score the policy rows with R, winner vs losers, reference log-probs (irpo.dpo.pairs) -> parquet
policy:       DPO from pi_{t-1} -> pi_t (irpo.dpo.trainer; an HF directory)
"""
from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auction.config import AuctionConfig
from auction.metrics import spearman
from cluster.layout import Roles
from irpo.config import IRPOConfig
from irpo.dpo.pairs import (
    Preference,
    answer_rewards,
    build_preferences,
    preference_records,
    write_with_reference_logprobs,
)
from irpo.dpo.trainer import trains_in_bf16
from irpo.ds_train import TrainerRun
from irpo.loop.held_out import evaluate_samples, inserted_ad_traits
from irpo.loop.pair_diagnostics import click_probability_by_relevance
from irpo.loop.run_store import copy_stage_contents
from irpo.loop.sampling import read_samples, sample_and_judge
from irpo.reward.click_model import click_probabilities
from irpo.reward.data import click_rows, exact_click_probs
from irpo.reward.refit import refit_reward_model
from judge.config import JudgeConfig
from judge.judged_sample import JudgedSample
from judge.simulated_user import SimulatedUser
from rollout.config import RolloutConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageInputs:
    """What every stage may read: the config sections and the simulation environment."""

    irpo: IRPOConfig
    rollout: RolloutConfig
    judge: JudgeConfig
    auction: AuctionConfig
    roles: Roles
    user: SimulatedUser
    prompt_style: str
    ray_storage: Path


def samples_stage(inputs: StageInputs, rows: list[dict], policy_dir: Path, out: Path) -> dict:
    result, samples = sample_and_judge(rows, policy_dir, inputs.rollout, inputs.prompt_style, inputs.judge,
                                       inputs.roles, out)
    result["metrics"] = evaluate_samples(samples, inputs.user, inputs.auction, exact=inputs.judge.kind == "simulated")
    return result


def reward_model_stage(inputs: StageInputs, samples_dirs: Sequence[Path], out: Path,
                       previous: Path | None = None) -> dict:
    """Refit pCTR on the reward rows of `samples_dirs` (the current epoch's first, then earlier epochs' replayed,
    `irpo.reward_model.replay_epochs`); the previous epoch's model is copied in when the refit says to keep it."""
    result = refit_reward_model((read_samples(d, "reward") for d in samples_dirs), previous,
                                inputs.irpo.reward_model, inputs.roles.scorer,
                                TrainerRun(inputs.roles.reward_trainer, out, inputs.ray_storage, inputs.irpo.seed))
    if result.pop("keep_previous", False):
        shutil.rmtree(out, ignore_errors=True)
        copy_stage_contents(previous, out)
        result["reused"] = str(previous)
    return result


def pairs_stage(inputs: StageInputs, samples_dir: Path, reward_model_dir: Path | None, policy_dir: Path,
                out: Path, epoch: int) -> dict:
    """Score the policy rows with R, pick each prompt's winner and losers, and write them with the reference
    log-probs of `policy_dir`; returns the pairs' summary (with R against the exact R, as diagnostics)."""
    from transformers import AutoTokenizer

    samples = read_samples(samples_dir, "policy")
    rows = click_rows(samples)
    scored = click_probabilities(inputs.irpo.reward, samples, rows, reward_model_dir, inputs.roles.scorer)
    exact_p = exact_click_probs(samples, rows)
    rewards = answer_rewards(samples, scored, inputs.auction)
    exact = answer_rewards(samples, rows.assign(p=exact_p), inputs.auction)
    ads = np.array([len(sample.answer.inserted) for sample in samples])
    preferences = build_preferences([s.request_id for s in samples], [s.sample for s in samples], rewards,
                                    inputs.irpo.delta_th, ads if inputs.irpo.pair_losers == "same_count" else None)
    index = {(s.request_id, s.sample): i for i, s in enumerate(samples)}
    summary = {"answers": len(samples), "prompts": len(preferences),
               "pairs": sum(len(p.rejected) for p in preferences), "mean_reward": float(rewards.mean()),
               "mean_exact_reward": float(exact.mean()),
               "reward_vs_exact_spearman": spearman(list(rewards), list(exact))}
    if not rows.empty:
        summary.update(click_probability_by_relevance(scored, exact_p, inputs.user.world))
    if preferences:
        summary.update(_winners_and_losers(samples, preferences, index, exact, ads, inputs.user.world))
        records = preference_records(samples, preferences, index, AutoTokenizer.from_pretrained(policy_dir))
        # which worker gets which records; DPO then shuffles each worker's records every pass
        random.Random(f"{inputs.irpo.seed}|pairs|{epoch}").shuffle(records)
        write_with_reference_logprobs(records, policy_dir, trains_in_bf16(inputs.irpo.dpo, inputs.roles.policy_trainer),
                                      inputs.roles.scorer, out / "pairs")
    return summary


def _winners_and_losers(samples: Sequence[JudgedSample], preferences: Sequence[Preference], index: dict,
                        exact: np.ndarray, ads: np.ndarray, world) -> dict:
    """Diagnostics of the pairs: how related the winners' and the losers' ads are, their exact R, and the
    share of pairs whose two answers insert as many ads."""
    winners = [index[p.request_id, p.chosen] for p in preferences]
    losers = [(index[p.request_id, p.chosen], index[p.request_id, r]) for p in preferences for r in p.rejected]
    return {"winner_related_share": inserted_ad_traits([samples[i] for i in winners], world)["related_share"],
            "loser_related_share": inserted_ad_traits([samples[i] for _, i in losers], world)["related_share"],
            "winner_exact_reward": float(exact[winners].mean()),
            "loser_exact_reward": float(np.mean([exact[i] for _, i in losers])),
            "same_ad_count_share": float(np.mean([ads[w] == ads[i] for w, i in losers]))}


def policy_stage(inputs: StageInputs, pairs_dir: Path, n_prompts: int, policy_dir: Path, out: Path,
                 reward_model_doubt: str | None = None) -> dict:
    """DPO from `policy_dir` into `out`; the policy carries over unchanged when there is nothing to prefer,
    or when the reward model is in doubt (`reward_model_doubt`, the reason) and `irpo.train_on_stale_reward`
    is off."""
    import ray.data

    from irpo.dpo.trainer import train_dpo

    reason = None
    if n_prompts == 0:
        reason = f"no preference pairs (no prompt had an answer more than delta_th = {inputs.irpo.delta_th:g} below its best)"
    elif reward_model_doubt and not inputs.irpo.train_on_stale_reward:
        reason = reward_model_doubt
    if reason:
        log.warning("policy phase: NOT TRAINED, %s; the policy is unchanged this epoch", reason)
        copy_stage_contents(policy_dir, out)
        return {"prompts": n_prompts, "skipped": reason}
    dataset = ray.data.read_parquet(str(pairs_dir / "pairs"))
    return train_dpo(dataset, n_prompts, policy_dir, inputs.irpo.dpo,
                     TrainerRun(inputs.roles.policy_trainer, out, inputs.ray_storage, inputs.irpo.seed))
