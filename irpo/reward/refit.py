"""The reward phase: refit the pCTR model on the reward rows' clicks, check it on held-out requests, and
keep the previous epoch's model when the refit cannot be trusted.

The refit reads the current epoch's click rows first, then earlier epochs' (replayed); the held-out
figures are the current epoch's. With too few current rows, or a fit no better than chance on them, the
previous epoch's model is to be carried over: the result says so (`keep_previous`) and the loop copies it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cluster.layout import ScorerRole
from irpo.config import RewardModelConfig
from irpo.ds_train import TrainerRun
from irpo.reward.data import IdIndex, click_rows, embed_texts, feature_arrays, text_columns, texts_of
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
from judge.judged_sample import JudgedSample

log = logging.getLogger(__name__)


def refit_reward_model(click_samples: Iterable[Sequence[JudgedSample]], previous: Path | None,
                       config: RewardModelConfig, scorer: ScorerRole, run: TrainerRun) -> dict:
    """Fit pCTR into `run.out` on the reward-phase samples of each epoch read (`click_samples`, the current
    epoch's first; the earlier ones are read only when the refit goes ahead); returns the stage's result (row
    counts, held-out log-loss and AUC, `degenerate`), with `keep_previous` when the model in `previous` is to
    be used instead."""
    epochs = iter(click_samples)
    current = click_rows(next(epochs))
    if len(current) < config.min_click_rows and is_reward_model(previous):
        log.warning("reward phase: %d inserted ads (< %d): keeping the reward model of %s", len(current),
                    config.min_click_rows, previous)
        return {"click_rows": len(current), "keep_previous": True}
    if current.empty:  # nothing to learn from: R falls back to -lambda s_resp (recorded, and logged loudly)
        log.warning("reward phase: the policy inserted no valid ad, so there is no click to fit; p = 0 this epoch")
        return {"click_rows": 0, "skipped": "no valid ad inserted in the reward phase"}
    rows = pd.concat([current, *(click_rows(samples) for samples in epochs)], ignore_index=True)
    is_current = np.arange(len(rows)) < len(current)
    # split by query, so a query held out in one epoch is held out in every epoch replayed
    fit, stop, held = split_click_rows(rows["request_id"], config.holdout_share, config.validation_share)
    held &= is_current
    columns = text_columns(config)
    embeddings = embed_texts(texts_of(rows, columns), config.encoder, scorer)
    users, ads = IdIndex(list(rows.loc[fit, "user_id"])), IdIndex(list(rows.loc[fit, "ad_id"]))
    train = feature_arrays(rows[fit], embeddings, users, ads, columns)
    valid = feature_arrays(rows[stop], embeddings, users, ads, columns) if stop.any() else None
    history = fit_reward_model(ClickFeatures(train, valid, users, ads, columns), config, run)
    result = {"click_rows": len(current), "replayed_rows": len(rows) - len(current), "train_rows": int(fit.sum()),
              "validation_rows": int(stop.sum()), "holdout_rows": int(held.sum()),
              "click_rate": float(current["clicked"].mean()),
              "best_epoch": min(history, key=lambda h: h.get("valid_log_loss", 0))["epoch"] if valid else None}
    if held.any():
        result.update(_held_out_fit(run.out, feature_arrays(rows[held], embeddings, users, ads, columns),
                                    train["clicked"].mean(), config.min_holdout_auc))
    if result.get("degenerate"):
        _warn_degenerate(result, previous)
        result["keep_previous"] = is_reward_model(previous)
    return result


def _held_out_fit(model_dir: Path, holdout: dict, train_click_rate, min_auc: float) -> dict:
    """The fitted model on the held-out requests: log-loss, AUC, the base rate's log-loss (the training rows'
    click rate in their own dtype, so the figure is the one earlier runs recorded), and `degenerate`."""
    model, meta = load_reward_model(model_dir)
    probs, labels = predict(model, meta, holdout), holdout["clicked"]
    figures = {"holdout_log_loss": log_loss(probs, labels), "holdout_auc": auc(probs, labels),
               "holdout_log_loss_base_rate": log_loss(np.full(len(labels), train_click_rate), labels)}
    return figures | {"degenerate": degenerate_fit(figures, min_auc)}


def _warn_degenerate(result: dict, previous: Path | None) -> None:
    auc_text = "n/a (one class held out)" if result["holdout_auc"] is None else f"{result['holdout_auc']:.3f}"
    log.warning("reward model: held-out AUC %s, log-loss %.4f vs base rate %.4f: no better than chance or the "
                "base rate%s", auc_text, result["holdout_log_loss"], result["holdout_log_loss_base_rate"],
                "; keeping the previous epoch's model" if is_reward_model(previous) else " (no earlier model to keep)")
