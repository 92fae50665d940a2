"""Policy phase data: score each sampled answer with R, pick winner vs losers, attach reference log-probs.

R(y) = sum_i b_i p_i(y) - lambda s_resp(y), with p_i from the pCTR model (or, for the Oracle variant,
the judge's clicks). Per prompt the winner is the argmax; the losers are the answers more than
delta_th below it, each pair weighted 1/|S| (METHOD.md section 4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auction.codec import request_from_json
from auction.config import AuctionConfig
from auction.parser import parse_answer
from auction.reward import response_cost


@dataclass(frozen=True)
class Pair:
    request_id: str
    chosen: int  # sample index of the winner
    rejected: int
    weight: float  # 1 / |S| of this prompt


def answer_rewards(samples: pd.DataFrame, clicks: pd.DataFrame, auction: AuctionConfig) -> np.ndarray:
    """R of every sample; `clicks` has one row per inserted ad: `row` (sample index), `bid`, `p`."""
    value = np.zeros(len(samples))
    np.add.at(value, clicks["row"].to_numpy(int), (clicks["bid"] * clicks["p"]).to_numpy(float))
    penalty = np.array([
        response_cost(parse_answer(s.answer, [c.ad for c in request_from_json(s.request).candidates]),
                      auction.response_cost)
        for s in samples.itertuples()
    ])
    return value - auction.penalty_weight * penalty


def build_pairs(request_ids, samples, rewards, delta_th: float) -> list[Pair]:
    """Winner vs every loser more than `delta_th` below it; prompts without a loser give nothing."""
    table = pd.DataFrame({"request_id": request_ids, "sample": samples, "reward": rewards})
    pairs = []
    for request_id, group in table.groupby("request_id", sort=True):
        group = group.sort_values("sample")
        best = group.loc[group["reward"].idxmax()]
        losers = group[group["reward"] < best["reward"] - delta_th]
        pairs += [Pair(str(request_id), int(best["sample"]), int(s), 1.0 / len(losers)) for s in losers["sample"]]
    return pairs


class ReferenceLogprobs:
    """`map_batches` actor: log pi_ref of chosen and rejected completions, from the epoch's start policy."""

    def __init__(self, model_dir: str, batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM

        from irpo.ds_train import worker_threads

        worker_threads(1)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        import torch

        from irpo.dpo_trainer import pair_tensors
        from irpo.dpo_loss import completion_logprobs

        out = {"ref_chosen": [], "ref_rejected": []}
        n = len(batch["prompt_ids"])
        for start in range(0, n, self.batch_size):
            part = {k: batch[k][start : start + self.batch_size] for k in ("prompt_ids", "chosen_ids", "rejected_ids")}
            inputs = pair_tensors(part, pad_id=0)
            with torch.inference_mode():
                logps = completion_logprobs(self.model, **inputs)
            half = len(part["prompt_ids"])
            out["ref_chosen"] += logps[:half].tolist()
            out["ref_rejected"] += logps[half:].tolist()
        return {**batch, **{k: np.array(v) for k, v in out.items()}}
