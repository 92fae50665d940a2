"""The work of each IRPO stage, given its inputs and a scratch directory to write into.

samples:      one rollout pass of pi_{t-1} (reward, policy, eval and probe rows) -> judged parquet
reward_model: fit pCTR on the reward rows' clicks; held-out log-loss and AUC
pairs:        score the policy rows with R, winner vs losers, reference log-probs -> parquet
policy:       DPO from pi_{t-1} -> pi_t (an HF directory)
"""
from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from auction.config import AuctionConfig
from auction.metrics import spearman
from cluster.layout import Roles
from irpo.config import IRPOConfig
from irpo.dpo.pairs import ReferenceLogprobs, answer_rewards, build_preferences, preference_records
from irpo.dpo.trainer import trains_in_bf16
from irpo.ds_train import TrainerRun
from irpo.loop.held_out import evaluate_samples, inserted_ad_traits
from irpo.loop.pair_diagnostics import click_probability_by_relevance
from irpo.loop.run_store import copy_stage_contents
from irpo.loop.sampling import read_samples, sample_and_judge
from irpo.reward.click_model import pctr_probabilities
from irpo.reward.data import (
    IdIndex,
    click_rows,
    embed_texts,
    exact_click_probs,
    feature_arrays,
    text_columns,
    texts_of,
)
from irpo.reward.refit_checks import degenerate_fit, split_click_rows
from irpo.reward.trainer import (
    ClickFeatures,
    auc,
    fit_reward_model,
    is_reward_model,
    load_reward_model,
    log_loss,
    predict,
)
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
    """Fit pCTR on the reward rows of `samples_dirs` (the current epoch's first, then earlier epochs' replayed,
    `irpo.reward_model.replay_epochs`); held-out figures are the current epoch's. With too few current rows, or a
    fit no better than chance on them, carry the previous epoch's model over (flagged in the result and the log)."""
    config = inputs.irpo.reward_model
    current = click_rows(read_samples(samples_dirs[0], "reward"))
    if len(current) < config.min_click_rows and is_reward_model(previous):
        log.warning("reward phase: %d inserted ads (< %d): keeping the reward model of %s", len(current),
                    config.min_click_rows, previous)
        return {"click_rows": len(current), "reused": _carry_over(previous, out)}
    if current.empty:  # nothing to learn from: R falls back to -lambda s_resp (recorded, and logged loudly)
        log.warning("reward phase: the policy inserted no valid ad, so there is no click to fit; p = 0 this epoch")
        return {"click_rows": 0, "skipped": "no valid ad inserted in the reward phase"}
    replayed = [click_rows(read_samples(d, "reward")) for d in samples_dirs[1:]]
    rows = pd.concat([current, *replayed], ignore_index=True)
    is_current = np.arange(len(rows)) < len(current)
    # split by query, so a query held out in one epoch is held out in every epoch replayed
    fit, stop, held = split_click_rows(rows["request_id"], config.holdout_share, config.validation_share)
    held &= is_current
    columns = text_columns(config.mention_context, config.ad_relevance, config.similarities,
                           config.similarity_parts)
    embeddings = embed_texts(texts_of(rows, columns), config.encoder, inputs.roles.scorer)
    users, ads = IdIndex(list(rows.loc[fit, "user_id"])), IdIndex(list(rows.loc[fit, "ad_id"]))
    train = feature_arrays(rows[fit], embeddings, users, ads, columns)
    valid = feature_arrays(rows[stop], embeddings, users, ads, columns) if stop.any() else None
    history = fit_reward_model(ClickFeatures(train, valid, users, ads, columns), config,
                               TrainerRun(inputs.roles.reward_trainer, out, inputs.ray_storage, inputs.irpo.seed))
    model, meta = load_reward_model(out)
    result = {"click_rows": len(current), "replayed_rows": len(rows) - len(current), "train_rows": int(fit.sum()),
              "validation_rows": int(stop.sum()), "holdout_rows": int(held.sum()),
              "click_rate": float(current["clicked"].mean()),
              "best_epoch": min(history, key=lambda h: h.get("valid_log_loss", 0))["epoch"] if valid else None}
    if held.any():
        holdout = feature_arrays(rows[held], embeddings, users, ads, columns)
        probs, labels = predict(model, meta, holdout), holdout["clicked"]
        result.update(holdout_log_loss=log_loss(probs, labels), holdout_auc=auc(probs, labels),
                      holdout_log_loss_base_rate=log_loss(np.full(len(labels), train["clicked"].mean()), labels))
        result["degenerate"] = degenerate_fit(result, config.min_holdout_auc)
    if result.get("degenerate"):
        auc_text = "n/a (one class held out)" if result["holdout_auc"] is None else f"{result['holdout_auc']:.3f}"
        log.warning("reward model: held-out AUC %s, log-loss %.4f vs base rate %.4f: no better than chance or the base rate%s",
                    auc_text, result["holdout_log_loss"], result["holdout_log_loss_base_rate"],
                    "; keeping the previous epoch's model" if is_reward_model(previous) else " (no earlier model to keep)")
        if is_reward_model(previous):
            result["reused"] = _carry_over(previous, out)
    return result


def _carry_over(previous: Path, out: Path) -> str:
    """Replace whatever `out` holds with the previous epoch's reward model; returns where it came from."""
    shutil.rmtree(out, ignore_errors=True)
    copy_stage_contents(previous, out)
    return str(previous)


def click_probabilities(inputs: StageInputs, samples: Sequence[JudgedSample], rows: pd.DataFrame,
                        reward_model_dir: Path | None) -> pd.DataFrame:
    """`rows` (one per inserted ad) with `p`, the click probability R uses (`irpo.reward`): the pCTR
    model's (the method), the judge's realised clicks (the paper's Oracle) or the simulated user's
    exact probabilities (a diagnostic: no reward-model error, no click noise)."""
    if inputs.irpo.reward == "clicks" or rows.empty:
        return rows.assign(p=rows["clicked"].astype(float))
    if inputs.irpo.reward == "exact":
        return rows.assign(p=exact_click_probs(samples, rows))
    if not is_reward_model(reward_model_dir):  # the reward phase had no clicks to fit
        return rows.assign(p=0.0)
    model, meta = load_reward_model(reward_model_dir)
    return rows.assign(p=pctr_probabilities(model, meta, rows,
                                            lambda texts: embed_texts(texts, meta["encoder"], inputs.roles.scorer)))


def pairs_stage(inputs: StageInputs, samples_dir: Path, reward_model_dir: Path | None, policy_dir: Path,
                out: Path, epoch: int) -> dict:
    import ray.data
    from transformers import AutoTokenizer

    samples = read_samples(samples_dir, "policy")
    rows = click_rows(samples)
    scored, exact_p = click_probabilities(inputs, samples, rows, reward_model_dir), exact_click_probs(samples, rows)
    rewards = answer_rewards(samples, scored, inputs.auction)
    exact = answer_rewards(samples, rows.assign(p=exact_p), inputs.auction)
    ads = np.array([len(sample.answer.inserted) for sample in samples])
    preferences = build_preferences([s.request_id for s in samples], [s.sample for s in samples], rewards,
                                    inputs.irpo.delta_th, ads if inputs.irpo.pair_losers == "same_count" else None)
    index = {(s.request_id, s.sample): i for i, s in enumerate(samples)}
    losers = [(p, index[p.request_id, r]) for p in preferences for r in p.rejected]
    summary = {"answers": len(samples), "prompts": len(preferences), "pairs": len(losers),
               "mean_reward": float(rewards.mean()), "mean_exact_reward": float(exact.mean()),
               "reward_vs_exact_spearman": spearman(list(rewards), list(exact))}
    world = inputs.user.world
    if not rows.empty:
        summary.update(click_probability_by_relevance(scored, exact_p, world))
    if preferences:
        winners = [index[p.request_id, p.chosen] for p in preferences]
        summary.update(winner_related_share=inserted_ad_traits([samples[i] for i in winners], world)["related_share"],
                       loser_related_share=inserted_ad_traits([samples[i] for _, i in losers], world)["related_share"])
        summary.update(winner_exact_reward=float(exact[winners].mean()),
                       loser_exact_reward=float(np.mean([exact[i] for _, i in losers])),
                       same_ad_count_share=float(np.mean([ads[index[p.request_id, p.chosen]] == ads[i]
                                                          for p, i in losers])))
        tokenizer = AutoTokenizer.from_pretrained(policy_dir)
        records = preference_records(samples, preferences, index, tokenizer, inputs.prompt_style)
        # which worker gets which records; DPO then shuffles each worker's records every pass
        random.Random(f"{inputs.irpo.seed}|pairs|{epoch}").shuffle(records)
        scorer = inputs.roles.scorer
        dataset = ray.data.from_items(records).map_batches(
            ReferenceLogprobs, fn_constructor_kwargs={"model_dir": str(policy_dir),
                                                      "bf16": trains_in_bf16(inputs.irpo.dpo, inputs.roles.policy_trainer)},
            batch_size=32, batch_format="pandas", concurrency=scorer.replicas, num_cpus=scorer.cpus,
            num_gpus=scorer.gpus)
        dataset.write_parquet(str(out / "pairs"))
    return summary


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
