"""The fitted pCTR model as auction's ClickModel: click probabilities of the ads in one answer, in-process."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from auction.parser import ParsedAnswer
from auction.types import AuctionRequest
from irpo.reward.data import IdIndex, feature_arrays, inserted_ad_rows
from irpo.reward.trainer import load_reward_model, predict, text_columns_of


class PCTRClickModel:
    def __init__(self, directory: str | Path):
        from judge.encoder import text_encoder

        self.model, self.meta = load_reward_model(directory)
        self.encoder = text_encoder(self.meta["encoder"])
        self.users, self.ads = IdIndex.from_mapping(self.meta["users"]), IdIndex.from_mapping(self.meta["ads"])
        self.columns = text_columns_of(self.meta)

    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        if not answer.inserted:
            return {}
        rows = pd.DataFrame(inserted_ad_rows(request, answer))
        texts = list(dict.fromkeys(t for c in self.columns for t in rows[c]))
        embeddings = dict(zip(texts, self.encoder.encode(texts)))
        arrays = feature_arrays(rows, embeddings, self.users, self.ads, self.columns)
        return dict(zip(answer.ad_ids, map(float, predict(self.model, self.meta, arrays))))
