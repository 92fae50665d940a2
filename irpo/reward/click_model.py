"""Scoring with a fitted pCTR model: `pctr_probabilities` for a table of click rows (the pairs stage
embeds their texts in Ray Data), and `PCTRClickModel`, auction's ClickModel for one answer in-process."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from auction.parser import ParsedAnswer
from auction.types import AuctionRequest
from irpo.reward.data import IdIndex, feature_arrays, inserted_ad_rows, texts_of
from irpo.reward.trainer import PCTRModel, load_reward_model, predict, text_columns_of

Embed = Callable[[list[str]], dict[str, np.ndarray]]  # distinct texts -> their embeddings


def pctr_probabilities(model: PCTRModel, meta: dict, rows: pd.DataFrame, embed: Embed) -> np.ndarray:
    """The model's click probability of every row (one per inserted ad, `irpo.reward.data.click_rows`)."""
    columns = text_columns_of(meta)
    users, ads = IdIndex.from_mapping(meta["users"]), IdIndex.from_mapping(meta["ads"])
    return predict(model, meta, feature_arrays(rows, embed(texts_of(rows, columns)), users, ads, columns))


class PCTRClickModel:
    def __init__(self, directory: str | Path):
        from judge.encoder import text_encoder

        self.model, self.meta = load_reward_model(directory)
        self.encoder = text_encoder(self.meta["encoder"])

    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        if not answer.inserted:
            return {}
        rows = pd.DataFrame(inserted_ad_rows(request, answer))
        probs = pctr_probabilities(self.model, self.meta, rows, lambda texts: dict(zip(texts, self.encoder.encode(texts))))
        return dict(zip(answer.ad_ids, map(float, probs)))
