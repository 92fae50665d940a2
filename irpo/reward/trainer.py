"""Fit the pCTR model on one reward phase's clicks under Ray Train + DeepSpeed, and load it back.

The fitted model is a directory: `pctr.pt` (weights) and `pctr.json` (dimensions and ID indices),
enough to score answers without the training code's state. With a validation slice, the weights kept
are those of the epoch with the lowest validation log-loss (early stopping): a phase has only a
couple of thousand click rows, and 20 epochs on them overfit (held-out log-loss above the base rate).
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from auction.metrics import average_ranks
from irpo.config import RewardModelConfig
from irpo.ds_train import (
    OptimizerPlan,
    TrainerRun,
    WorkerSetup,
    deepspeed_engine,
    finish_worker,
    run_ray_train,
    worker_threads,
)
from irpo.reward.data import IdIndex, vector_columns
from irpo.reward.model import PCTRModel, click_loss

ID_DROPOUT = 0.1  # trains the "unseen" row of the ID tables: test users and new ads map there

META_FILE = "pctr.json"  # dimensions and ID indices; the weights are pctr.pt
HISTORY_FILE = "history.json"  # per-epoch training (and validation) log-loss


def text_columns_of(meta: dict) -> tuple[str, ...]:
    """The texts a fitted model reads (models fitted before `mention_context` existed read two)."""
    return tuple(meta.get("text_columns", ("query", "answer")))


def build_model(meta: dict) -> PCTRModel:
    columns = text_columns_of(meta)
    vectors = len(vector_columns(columns))  # enc(x), then enc(y), enc(s)... and products
    similarities = len(columns) - vectors  # one number each, after the vectors
    return PCTRModel(meta["text_dim"], meta["n_users"], meta["n_ads"], meta["user_dim"], meta["ad_dim"],
                     tuple(meta["hidden"]), response_dim=(vectors - 1) * meta["text_dim"] + similarities,
                     similarity_dim=similarities)


def logits_of(model: PCTRModel, batch: dict[str, torch.Tensor], text_dim: int) -> torch.Tensor:
    text = batch["text"].float()
    return model(text[:, :text_dim], text[:, text_dim:], batch["user"].long(), batch["ad"].long(),
                 batch["position"].long(), batch["count"].long())


def _drop_ids(ids: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.rand(ids.shape, device=ids.device) < ID_DROPOUT, torch.zeros_like(ids), ids)


def click_step_loss(model, batch: dict[str, torch.Tensor], text_dim: int) -> torch.Tensor:
    """One training micro-batch of click rows (on the model's device): BCE with ID dropout, which trains
    the "unseen" rows of the ID tables that test users and new ads map to."""
    batch = {**batch, "user": _drop_ids(batch["user"]), "ad": _drop_ids(batch["ad"])}
    return click_loss(logits_of(model, batch, text_dim), batch["clicked"])


@dataclass(frozen=True)
class RewardLoopConfig:
    setup: WorkerSetup
    meta: dict  # the model's dimensions and ID indices (pctr.json)
    epochs: int
    seed: int
    valid: dict | None  # early-stopping rows as arrays; None: keep the last epoch


def reward_model_loop(ray_config: dict) -> None:
    """One Ray Train worker: BCE on this worker's shard of click rows; rank 0 saves the weights."""
    import ray.train.torch

    config: RewardLoopConfig = ray_config["loop"]
    setup, meta = config.setup, config.meta
    worker_threads(setup.cpus_per_worker)
    torch.manual_seed(config.seed)
    device = ray.train.torch.get_device()
    engine = deepspeed_engine(build_model(meta).to(device), setup.optimizer)
    shard = ray.train.get_dataset_shard("train")
    valid = {k: torch.from_numpy(np.asarray(v)).to(device) for k, v in config.valid.items()} if config.valid else None
    history, best = [], (math.inf, None)
    for epoch in range(config.epochs):
        losses = []
        for batch in shard.iter_torch_batches(batch_size=setup.optimizer.micro_batch, device=device):
            loss = click_step_loss(engine, batch, meta["text_dim"])
            engine.backward(loss)
            engine.step()
            losses.append(loss.item())
        history.append({"epoch": epoch, "train_log_loss": float(np.mean(losses)) if losses else None})
        if valid is not None:
            history[-1]["valid_log_loss"] = validation_loss(engine.module, valid, meta["text_dim"])
            if history[-1]["valid_log_loss"] < best[0]:
                best = (history[-1]["valid_log_loss"], copy.deepcopy(engine.module.state_dict()))
        ray.train.report(history[-1])
    if ray.train.get_context().get_world_rank() == 0:
        weights = best[1] or engine.module.state_dict()
        torch.save({k: v.cpu() for k, v in weights.items()}, Path(setup.out_dir) / "pctr.pt")
        (Path(setup.out_dir) / HISTORY_FILE).write_text(json.dumps(history, indent=1))
    finish_worker()


@torch.no_grad()
def validation_loss(model: PCTRModel, valid: dict[str, torch.Tensor], text_dim: int) -> float:
    model.eval()
    loss = click_loss(logits_of(model, valid, text_dim), valid["clicked"]).item()
    model.train()
    return loss


@dataclass(frozen=True)
class ClickFeatures:
    """The pCTR model's inputs (`irpo.reward.data.feature_arrays`): rows to fit, rows for early stopping
    (None: keep the last epoch), the ID indices both were built with, and the texts side by side."""

    train: dict[str, np.ndarray]
    valid: dict[str, np.ndarray] | None
    users: IdIndex
    ads: IdIndex
    text_columns: tuple[str, ...] = ("query", "answer")


def fit_reward_model(features: ClickFeatures, config: RewardModelConfig, run: TrainerRun) -> list[dict]:
    """Train on `features.train`, keeping the best epoch on `features.valid` if given; writes
    `run.out/pctr.pt` and `run.out/pctr.json`; returns the per-epoch history."""
    import ray.data

    train, role = features.train, run.role
    run.out.mkdir(parents=True, exist_ok=True)
    vectors = vector_columns(features.text_columns)
    text_dim = (train["text"].shape[1] - (len(features.text_columns) - len(vectors))) // len(vectors)
    meta = {"text_dim": text_dim, "text_columns": list(features.text_columns), "n_users": len(features.users),
            "n_ads": len(features.ads), "user_dim": config.user_embedding_dim, "ad_dim": config.ad_embedding_dim,
            "hidden": list(config.hidden_dims), "encoder": config.encoder, "users": features.users.index,
            "ads": features.ads.index}
    per_worker = max(1, math.ceil(len(train["clicked"]) / role.workers))
    plan = OptimizerPlan(lr=config.lr, total_steps=config.epochs * math.ceil(per_worker / config.batch_size),
                         micro_batch=config.batch_size, zero_stage=role.zero_stage)
    loop_config = RewardLoopConfig(WorkerSetup(str(run.out.resolve()), role.cpus, plan), meta, config.epochs,
                                   run.seed, features.valid)
    columns = ("text", "user", "ad", "position", "count", "clicked")
    dataset = ray.data.from_items([{k: train[k][i] for k in columns} for i in range(len(train["clicked"]))])
    run_ray_train(reward_model_loop, loop_config, role, {"train": dataset}, run.storage, "reward_model")
    (run.out / META_FILE).write_text(json.dumps(meta))
    return json.loads((run.out / HISTORY_FILE).read_text())


def is_reward_model(directory: str | Path | None) -> bool:
    """Whether `directory` holds a fitted pCTR model (a reward phase with no clicks leaves none)."""
    return directory is not None and (Path(directory) / META_FILE).is_file()


def load_reward_model(directory: str | Path) -> tuple[PCTRModel, dict]:
    meta = json.loads((Path(directory) / META_FILE).read_text())
    model = build_model(meta)
    model.load_state_dict(torch.load(Path(directory) / "pctr.pt", map_location="cpu"))
    return model.eval(), meta


@torch.inference_mode()
def predict(model: PCTRModel, meta: dict, arrays: dict[str, np.ndarray]) -> np.ndarray:
    batch = {k: torch.from_numpy(v) for k, v in arrays.items() if k != "clicked"}
    return torch.sigmoid(logits_of(model, batch, meta["text_dim"])).numpy()


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def auc(probs: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties averaged); None when one class is absent."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = np.array(average_ranks(list(probs)))
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
