"""The work of each IRPO stage, given its inputs and a scratch directory to write into.

samples:      one rollout pass of pi_{t-1} (reward, policy, eval and probe rows) -> judged parquet
reward_model: fit pCTR on the reward rows' clicks; held-out log-loss and AUC
pairs:        score the policy rows with R, winner vs losers, reference log-probs -> parquet
policy:       DPO from pi_{t-1} -> pi_t (an HF directory)
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from auction.codec import request_from_json
from auction.config import AuctionConfig
from auction.metrics import spearman
from cluster.layout import Roles
from irpo.config import IRPOConfig
from irpo.evaluation import evaluate_samples
from irpo.pairs import ReferenceLogprobs, answer_rewards, build_pairs
from irpo.reward_data import IdIndex, click_rows, embed_texts, feature_arrays, text_columns
from irpo.reward_trainer import auc, fit_reward_model, load_reward_model, log_loss, predict, text_columns_of
from irpo.sampling import read_samples, sample_and_judge
from judge.config import JudgeConfig
from judge.simulated_user import SimulatedUser
from rollout.config import RolloutConfig
from rollout.prompt import ad_llm_messages

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
    result = sample_and_judge(rows, policy_dir, inputs.rollout, inputs.prompt_style, inputs.judge, inputs.roles, out)
    samples = read_samples(out)
    result["metrics"] = evaluate_samples(samples, inputs.user, inputs.auction, exact=inputs.judge.kind == "simulated")
    return result


def _holdout(request_id: str, share: float, salt: str = "") -> bool:
    return int(hashlib.sha256(f"{salt}{request_id}".encode()).hexdigest(), 16) % 1000 < share * 1000


def split_click_rows(request_ids: pd.Series, holdout_share: float, validation_share: float):
    """Masks (fit, early-stopping, held-out) over click rows, by request so an answer's ads stay together.

    With too few requests for a slice, that slice is empty and its rows are trained on.
    """
    held = request_ids.map(lambda r: _holdout(r, holdout_share))
    if held.all():
        held[:] = False
    stop = ~held & request_ids.map(lambda r: _holdout(r, validation_share, "early-stopping|"))
    if (~held & ~stop).sum() == 0:
        stop[:] = False
    return ~held & ~stop, stop, held


def reward_model_stage(inputs: StageInputs, samples_dir: Path, out: Path, previous: Path | None = None) -> dict:
    """Fit pCTR on the reward rows; with too few of them, carry the previous epoch's model over."""
    config = inputs.irpo.reward_model
    rows = click_rows(read_samples(samples_dir, "reward"))
    if len(rows) < config.min_click_rows and previous is not None and (previous / "pctr.json").is_file():
        log.warning("reward phase: %d inserted ads (< %d): keeping the reward model of %s", len(rows),
                    config.min_click_rows, previous)
        shutil.copytree(previous, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("stage.json"))
        return {"click_rows": len(rows), "reused": str(previous)}
    if rows.empty:  # nothing to learn from: R falls back to -lambda s_resp (recorded, and logged loudly)
        log.warning("reward phase: the policy inserted no valid ad, so there is no click to fit; p = 0 this epoch")
        return {"click_rows": 0, "skipped": "no valid ad inserted in the reward phase"}
    fit, stop, held = split_click_rows(rows["request_id"], config.holdout_share, config.validation_share)
    columns = text_columns(config.mention_context)
    embeddings = embed_texts([t for c in columns for t in rows[c]], config.encoder, inputs.roles.judge.cpus)
    users, ads = IdIndex(list(rows.loc[fit, "user_id"])), IdIndex(list(rows.loc[fit, "ad_id"]))
    train = feature_arrays(rows[fit], embeddings, users, ads, columns)
    valid = feature_arrays(rows[stop], embeddings, users, ads, columns) if stop.any() else None
    fit_reward_model(train, users, ads, config, inputs.roles.reward_trainer, out, inputs.ray_storage,
                     inputs.irpo.seed, valid, columns)
    model, meta = load_reward_model(out)
    history = json.loads((out / "history.json").read_text())
    result = {"click_rows": len(rows), "train_rows": int(fit.sum()), "validation_rows": int(stop.sum()),
              "holdout_rows": int(held.sum()), "click_rate": float(rows["clicked"].mean()),
              "best_epoch": min(history, key=lambda h: h.get("valid_log_loss", 0))["epoch"] if valid else None}
    if held.any():
        holdout = feature_arrays(rows[held], embeddings, users, ads, columns)
        probs, labels = predict(model, meta, holdout), holdout["clicked"]
        result.update(holdout_log_loss=log_loss(probs, labels), holdout_auc=auc(probs, labels),
                      holdout_log_loss_base_rate=log_loss(np.full(len(labels), train["clicked"].mean()), labels))
    return result


def click_probabilities(inputs: StageInputs, rows: pd.DataFrame, reward_model_dir: Path | None) -> pd.DataFrame:
    """`rows` (one per inserted ad) with `p`: the pCTR model's click probability, or the clicks (Oracle)."""
    if inputs.irpo.oracle or rows.empty:
        return rows.assign(p=rows["clicked"].astype(float))
    if not (reward_model_dir / "pctr.json").is_file():  # the reward phase had no clicks to fit
        return rows.assign(p=0.0)
    model, meta = load_reward_model(reward_model_dir)
    columns = text_columns_of(meta)
    embeddings = embed_texts([t for c in columns for t in rows[c]], meta["encoder"], inputs.roles.judge.cpus)
    users, ads = IdIndex.from_mapping(meta["users"]), IdIndex.from_mapping(meta["ads"])
    return rows.assign(p=predict(model, meta, feature_arrays(rows, embeddings, users, ads, columns)))


def exact_rewards(samples: pd.DataFrame, rows: pd.DataFrame, auction: AuctionConfig) -> np.ndarray:
    """R with the simulated user's exact click probabilities: what the RM's R estimates."""
    exact = [json.loads(samples["click_probs"].iloc[r]).get(a, 0.0) for r, a in zip(rows["row"], rows["ad_id"])]
    return answer_rewards(samples, rows.assign(p=exact), auction)


def pairs_stage(inputs: StageInputs, samples_dir: Path, reward_model_dir: Path | None, policy_dir: Path,
                out: Path) -> dict:
    import ray.data
    from transformers import AutoTokenizer

    samples = read_samples(samples_dir, "policy")
    rows = click_rows(samples)
    rewards = answer_rewards(samples, click_probabilities(inputs, rows, reward_model_dir), inputs.auction)
    exact = exact_rewards(samples, rows, inputs.auction)
    pairs = build_pairs(samples["request_id"], samples["sample"], rewards, inputs.irpo.delta_th)
    summary = {"answers": len(samples), "pairs": len(pairs), "prompts_with_pairs": len({p.request_id for p in pairs}),
               "mean_reward": float(rewards.mean()), "mean_exact_reward": float(exact.mean()),
               "reward_vs_exact_spearman": spearman(list(rewards), list(exact))}
    if pairs:
        winners = {(p.request_id, p.chosen) for p in pairs}
        is_winner = [(r, s) in winners for r, s in zip(samples["request_id"], samples["sample"])]
        summary["winner_exact_reward"] = float(exact[np.array(is_winner)].mean())
        summary["loser_exact_reward"] = float(np.mean([exact[_index(samples, p.request_id, p.rejected)] for p in pairs]))
        tokenizer = AutoTokenizer.from_pretrained(policy_dir)
        rows = pair_rows(samples, pairs, tokenizer, inputs.prompt_style)
        dataset = ray.data.from_items(rows).map_batches(
            ReferenceLogprobs, fn_constructor_kwargs={"model_dir": str(policy_dir)}, batch_size=32, concurrency=1,
            num_cpus=inputs.roles.judge.cpus)
        dataset.write_parquet(str(out / "pairs"))
    return summary


def _index(samples: pd.DataFrame, request_id: str, sample: int) -> int:
    return int(np.flatnonzero((samples["request_id"] == request_id) & (samples["sample"] == sample))[0])


def pair_rows(samples: pd.DataFrame, pairs, tokenizer, prompt_style: str) -> list[dict]:
    """Token ids of each pair: the prompt as the engine saw it, and both sampled completions."""
    prompt_ids: dict[str, list[int]] = {}
    rows = []
    for pair in pairs:
        if pair.request_id not in prompt_ids:
            request = request_from_json(samples["request"].iloc[_index(samples, pair.request_id, pair.chosen)])
            text = tokenizer.apply_chat_template(ad_llm_messages(request, prompt_style), tokenize=False,
                                                 add_generation_prompt=True)
            prompt_ids[pair.request_id] = tokenizer(text, add_special_tokens=False)["input_ids"]
        rows.append({"request_id": pair.request_id, "prompt_ids": prompt_ids[pair.request_id],
                     "chosen_ids": list(samples["token_ids"].iloc[_index(samples, pair.request_id, pair.chosen)]),
                     "rejected_ids": list(samples["token_ids"].iloc[_index(samples, pair.request_id, pair.rejected)]),
                     "weight": pair.weight})
    return rows


def policy_stage(inputs: StageInputs, pairs_dir: Path, n_pairs: int, policy_dir: Path, out: Path) -> dict:
    import ray.data

    from irpo.dpo_trainer import train_dpo

    if n_pairs == 0:  # nothing to prefer: the policy carries over unchanged
        shutil.copytree(policy_dir, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("stage.json"))
        return {"pairs": 0, "skipped": "no pairs"}
    dataset = ray.data.read_parquet(str(pairs_dir / "pairs"))
    return train_dpo(dataset, n_pairs, policy_dir, inputs.irpo.dpo, inputs.roles.policy_trainer, out,
                     inputs.ray_storage)
