"""Checks on a pCTR refit: the request-level data split, and when a fit is not to be trusted.

The split is by request (query), so an answer's ads stay together and a query held out in one epoch is held
out in every epoch a refit replays. A fit is degenerate when it ranks held-out clicks no better than chance
or predicts them worse than the base rate; the policy phase is told why it should not train on a model.
"""
from __future__ import annotations

import hashlib

import pandas as pd


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


def degenerate_fit(result: dict, min_auc: float) -> bool:
    """A pCTR fit that ranks held-out clicks no better than chance or predicts worse than the base rate.
    With one class held out there is no AUC (None), and only the log-loss can tell."""
    worse_than_base_rate = result["holdout_log_loss"] > result["holdout_log_loss_base_rate"]
    return worse_than_base_rate or (result["holdout_auc"] is not None and result["holdout_auc"] < min_auc)


def reward_model_doubt(result: dict) -> str | None:
    """Why this epoch's policy phase should not trust its reward phase's pCTR model, or None: the model was
    kept from an earlier epoch (fitted on an earlier policy's answers, so the policy can outrun it), or the
    refit is degenerate with no earlier model to keep (its ranking of answers is noise)."""
    if result.get("reused"):
        return (f"the reward model was kept from an earlier epoch ({result['reused']}): it was fitted on an earlier "
                "policy's answers, and training on it lets the policy outrun it")
    if result.get("degenerate"):
        return "the reward model's refit is no better than chance on held-out clicks and there is no earlier one"
    return None
