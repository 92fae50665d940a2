"""The fitted pCTR model as auction's ClickModel: click probabilities of the ads in one answer, in-process."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from auction.parser import ParsedAnswer, mention_sentence
from auction.types import AuctionRequest
from irpo.reward_data import IdIndex, query_text
from irpo.reward_trainer import load_reward_model, predict


class PCTRClickModel:
    def __init__(self, directory: str | Path):
        from judge.encoder import SentenceEncoder, encoder_dir

        self.model, self.meta = load_reward_model(directory)
        self.encoder = SentenceEncoder(encoder_dir(self.meta["encoder"]))
        self.users, self.ads = IdIndex.from_mapping(self.meta["users"]), IdIndex.from_mapping(self.meta["ads"])

    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        if not answer.inserted:
            return {}
        query, response = self.encoder.encode([query_text(request), answer.text])
        n = len(answer.inserted)
        text = np.tile(np.concatenate([query, response]), (n, 1))
        if "context" in self.meta.get("text_columns", ()):
            contexts = self.encoder.encode([mention_sentence(answer.text, a.start, a.end) for a in answer.inserted])
            text = np.concatenate([text, np.asarray(contexts)], axis=1)
        arrays = {"text": text.astype(np.float32),
                  "user": self.users([request.user.user_id] * n), "ad": self.ads(list(answer.ad_ids)),
                  "position": np.array([a.position for a in answer.inserted], dtype=np.int64),
                  "count": np.full(n, n, dtype=np.int64)}
        return dict(zip(answer.ad_ids, map(float, predict(self.model, self.meta, arrays))))
