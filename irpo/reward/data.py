"""From judged samples to the reward model's rows: one row per inserted ad, with frozen text embeddings.

Texts are embedded once per phase by encoder actors in Ray Data (each distinct text once), never per
training step. x is the user's profile and question, y the whole answer (METHOD.md section 3); ours,
optionally, s: the sentence around the ad's mention (`auction.parser.mention_sentence`).
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from auction.parser import ParsedAnswer, mention_sentence
from auction.types import Ad, AuctionRequest
from cluster.layout import ScorerRole
from irpo.config import RewardModelConfig
from judge.judged_sample import JudgedSample

log = logging.getLogger(__name__)
ENCODE_BATCH = 64


def text_columns(config: RewardModelConfig) -> tuple[str, ...]:
    """The click rows' text features, in the order they are concatenated. A column named `a*b` is not a
    text but the element-wise product of two embeddings (an interaction the MLP reads as a learnt
    similarity); one named `a~b` is one number, the cosine similarity of two embeddings (for a list column
    such as `interests`, the largest over its items). Similarities come last: the model reads them both
    through the MLP and through a linear term of their own."""
    columns = ("query", "answer", "context") if config.mention_context else ("query", "answer")
    columns += ("ad", "query*ad", "context*ad") if config.ad_relevance else ()
    if config.similarities:
        columns += ("query~ad", "answer~ad") + (("context~ad",) if config.mention_context else ())
    if config.similarity_parts:
        columns += ("question~ad", "interests~ad")
    if config.other_ads:
        columns += ("other_ads~ad",)
    return columns


# Columns holding several texts, one per line (the user's interests, the answer's other ads): embedded item
# by item, and a similarity against one of them is its best item's (an ad fits a user who has one matching
# interest; it repeats an answer that has one ad of its kind already); 0 against an empty list.
LIST_COLUMNS = frozenset({"interests", "other_ads"})


def items_of(column: str, value: str) -> list[str]:
    return [item for item in value.split("\n") if item] if column in LIST_COLUMNS else [value]


def is_similarity(column: str) -> bool:
    return "~" in column


def vector_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The columns that are as wide as an embedding (texts and products), in order."""
    return tuple(c for c in columns if not is_similarity(c))


def embedded_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The texts to embed: every column's parts (products and similarities are computed from them)."""
    return tuple(dict.fromkeys(part for c in columns for part in re.split(r"[*~]", c)))


def texts_of(rows: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Every text the rows need embedded, once each, in first-seen order."""
    return list(dict.fromkeys(t for c in embedded_columns(columns) for value in rows[c] for t in items_of(c, value)))


def query_text(request: AuctionRequest) -> str:
    user = request.user
    return f"{user.basic_info}; likes {', '.join(user.interests)}. {request.query}"


def ad_text(ad: Ad) -> str:
    """What the model reads about an ad: its title, and its category where the advertiser gave one."""
    return f"{ad.title}, {ad.category}" if ad.category else ad.title


def inserted_ad_rows(request: AuctionRequest, answer: ParsedAnswer) -> list[dict]:
    """What the model reads about each inserted ad: texts, user and ad IDs, slot in the answer."""
    query = query_text(request)
    texts = {ad.ad_id: ad_text(request.by_id[ad.ad_id].ad) for ad in answer.inserted}
    return [{"query": query, "question": request.query, "interests": "\n".join(request.user.interests),
             "answer": answer.text, "context": mention_sentence(answer.text, ad.start, ad.end),
             "ad": texts[ad.ad_id], "other_ads": "\n".join(t for a, t in texts.items() if a != ad.ad_id),
             "user_id": request.user.user_id, "ad_id": ad.ad_id, "position": ad.position,
             "count": len(answer.inserted)} for ad in answer.inserted]


def click_rows(samples: Sequence[JudgedSample]) -> pd.DataFrame:
    """One row per ad inserted in a judged answer (`row`: its sample's index): texts, IDs, slot, bid, click."""
    rows = []
    for row, sample in enumerate(samples):
        if not sample.judge_ok:
            continue
        for features in inserted_ad_rows(sample.request, sample.answer):
            ad_id = features["ad_id"]
            rows.append({"row": row, "request_id": sample.request_id, "bid": sample.bids[ad_id], **features,
                         "clicked": int(bool(sample.clicks.get(ad_id, False)))})
    return pd.DataFrame(rows, columns=["row", "request_id", "bid", "query", "question", "interests", "answer",
                                       "context", "ad", "other_ads", "user_id", "ad_id", "position", "count",
                                       "clicked"])


class EncoderWorker:
    """`map_batches` actor: column `text` in, column `embedding` (unit-norm float32 vector) out."""

    def __init__(self, encoder: str, threads: int = 1):
        import torch

        from judge.encoder import text_encoder

        torch.set_num_threads(min(threads, os.cpu_count() or 1))  # Ray pins an actor to its num_cpus threads
        self.encoder = text_encoder(encoder)

    def __call__(self, batch: dict) -> dict:
        return {"text": batch["text"], "embedding": self.encoder.encode([str(t) for t in batch["text"]])}


def embed_texts(texts: list[str], encoder: str, role: ScorerRole = ScorerRole()) -> dict[str, np.ndarray]:
    """Embeddings of the distinct `texts`, computed by the scorer role's encoder actors in Ray Data."""
    import ray.data

    start = time.perf_counter()
    distinct = list(dict.fromkeys(texts))
    dataset = ray.data.from_items([{"text": t} for t in distinct])  # starts a local Ray if none runs
    # The stage runs alone, so the encoder may use every CPU free now (1.9x faster with 2 threads than 1).
    threads = max(1, int(ray.available_resources().get("CPU", role.cpus)))
    rows = dataset.map_batches(EncoderWorker, fn_constructor_kwargs={"encoder": encoder, "threads": threads},
                               batch_size=ENCODE_BATCH, concurrency=role.replicas, num_cpus=role.cpus,
                               num_gpus=role.gpus).take_all()
    log.info("embedded %d distinct texts in %.1fs", len(rows), time.perf_counter() - start)
    return {row["text"]: np.asarray(row["embedding"], dtype=np.float32) for row in rows}


def _column_features(rows: pd.DataFrame, embeddings: dict[str, np.ndarray], column: str) -> np.ndarray:
    if is_similarity(column):
        # unit vectors: the cosine similarity, scaled like the products so that the few tenths between a
        # related and an unrelated ad span several units (an early-stopped fit takes only tens of steps)
        left, right = column.split("~")
        right_vectors = _column_features(rows, embeddings, right)
        if left in LIST_COLUMNS:  # the best item's similarity
            cosines = np.array([max((float(embeddings[t] @ vector) for t in items_of(left, value)), default=0.0)
                                for value, vector in zip(rows[left], right_vectors)], np.float32)[:, None]
        else:
            cosines = (_column_features(rows, embeddings, left) * right_vectors).sum(axis=1, keepdims=True)
        return cosines * np.sqrt(right_vectors.shape[1])
    if "*" not in column:
        return np.stack([embeddings[t] for t in rows[column]])
    left, right = (_column_features(rows, embeddings, c) for c in column.split("*"))
    return left * right * np.sqrt(left.shape[1])  # unit vectors: entries ~1/sqrt(d), products scaled back up


class IdIndex:
    """Dense indices for user and ad IDs; 0 is reserved for an ID the model never saw."""

    def __init__(self, ids: list[str]):
        self.index = {value: i + 1 for i, value in enumerate(sorted(set(ids)))}

    @classmethod
    def from_mapping(cls, index: dict[str, int]) -> IdIndex:
        """The indices a fitted model was trained with (its pctr.json)."""
        restored = cls([])
        restored.index = dict(index)
        return restored

    def __len__(self) -> int:
        return len(self.index)

    def __call__(self, values) -> np.ndarray:
        return np.array([self.index.get(v, 0) for v in values], dtype=np.int64)


def feature_arrays(rows: pd.DataFrame, embeddings: dict[str, np.ndarray], users: IdIndex, ads: IdIndex,
                   columns: tuple[str, ...] = ("query", "answer")) -> dict[str, np.ndarray]:
    """The model's inputs as arrays: `text` is the features of `columns` side by side (enc(x); enc(y)...,
    then any similarities, one number each); `clicked` only for rows that carry clicks (scoring rows do not)."""
    text = np.concatenate([_column_features(rows, embeddings, column) for column in columns], axis=1)
    arrays = {"text": text.astype(np.float32), "user": users(rows["user_id"]), "ad": ads(rows["ad_id"]),
              "position": rows["position"].to_numpy(np.int64), "count": rows["count"].to_numpy(np.int64)}
    if "clicked" in rows:
        arrays["clicked"] = rows["clicked"].to_numpy(np.float32)
    return arrays


def exact_click_probs(samples: Sequence[JudgedSample], rows: pd.DataFrame) -> list[float]:
    """The simulated user's exact click probability of every click row (0 for an ad it gave none)."""
    return [samples[r].click_probs.get(a, 0.0) for r, a in zip(rows["row"], rows["ad_id"])]
