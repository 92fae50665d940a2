"""Click probabilities for R: `click_probabilities` from the configured source for a table of click rows
(the pairs stage; the pCTR model's texts embedded in Ray Data), `pctr_probabilities` for a fitted pCTR model,
and `PCTRClickModel`, auction's ClickModel for one answer in-process."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from auction.parser import ParsedAnswer
from auction.types import AuctionRequest
from cluster.layout import ScorerRole
from irpo.reward.data import IdIndex, embed_texts, exact_click_probs, feature_arrays, inserted_ad_rows, texts_of
from irpo.reward.trainer import PCTRModel, is_reward_model, load_reward_model, predict, text_columns_of
from judge.judged_sample import JudgedSample

Embed = Callable[[list[str]], dict[str, np.ndarray]]  # distinct texts -> their embeddings


def pctr_probabilities(model: PCTRModel, meta: dict, rows: pd.DataFrame, embed: Embed) -> np.ndarray:
    """The model's click probability of every row (one per inserted ad, `irpo.reward.data.click_rows`)."""
    columns = text_columns_of(meta)
    users, ads = IdIndex.from_mapping(meta["users"]), IdIndex.from_mapping(meta["ads"])
    return predict(model, meta, feature_arrays(rows, embed(texts_of(rows, columns)), users, ads, columns))


def click_probabilities(source: str, samples: Sequence[JudgedSample], rows: pd.DataFrame,
                        reward_model_dir: Path | None, scorer: ScorerRole) -> pd.DataFrame:
    """`rows` (one per inserted ad of `samples`) with `p`, the click probability R uses (`irpo.reward`, the
    `source`): the pCTR model's (the method), the judge's realised clicks (the paper's Oracle) or the
    simulated user's exact probabilities (a diagnostic: no reward-model error, no click noise)."""
    if source == "clicks" or rows.empty:
        return rows.assign(p=rows["clicked"].astype(float))
    if source == "exact":
        return rows.assign(p=exact_click_probs(samples, rows))
    if not is_reward_model(reward_model_dir):  # the reward phase had no clicks to fit
        return rows.assign(p=0.0)
    model, meta = load_reward_model(reward_model_dir)
    embed = lambda texts: embed_texts(texts, meta["encoder"], scorer)  # noqa: E731
    return rows.assign(p=pctr_probabilities(model, meta, rows, embed))


class PCTRClickModel:
    def __init__(self, directory: str | Path):
        from judge.encoder import text_encoder

        self.model, self.meta = load_reward_model(directory)
        self.encoder = text_encoder(self.meta["encoder"])

    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        return self.answers_click_probs(request, [answer])[0]

    def answers_click_probs(self, request: AuctionRequest, answers: Sequence[ParsedAnswer]) -> list[dict[str, float]]:
        """Every answer's click probabilities with one encoder batch (MOSAIC scores 20 answers per request)."""
        rows = [{**features, "answer_index": i} for i, answer in enumerate(answers)
                for features in inserted_ad_rows(request, answer)]
        probs: list[dict[str, float]] = [{} for _ in answers]
        if rows:
            table = pd.DataFrame(rows)
            scored = pctr_probabilities(self.model, self.meta, table, self._embed)
            for i, ad_id, p in zip(table["answer_index"], table["ad_id"], scored):
                probs[i][ad_id] = float(p)
        return probs

    def _embed(self, texts: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(texts, self.encoder.encode(texts)))
