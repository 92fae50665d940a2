"""A static sentence encoder distilled from the packaged MiniLM: one vector per vocabulary token, a
text's embedding the weighted mean of its tokens' vectors (the model2vec recipe: Tulkens and van Dongen,
2024). It costs a table look-up per token where MiniLM runs six transformer layers, and it knows which
words a text holds but not their order, which is what the tiny world's click model reads.

Distillation (about half a minute on 2 cores, once per machine; nothing downloads): every token of
MiniLM's vocabulary goes through MiniLM alone ([CLS] token [SEP], mean-pooled), the vectors are reduced
to `DIMS` principal components, and each is weighted by sif / (sif + p(token)) with p from the token's
rank (Zipf), so frequent words count less. model2vec's own `distill` pins transformers below the
version vLLM needs, so the recipe is written here.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

DIMS = 256
SIF = 1e-4
STATIC_NAME = "minilm-static"  # irpo.reward_model.encoder value that selects this encoder
TABLE_FILE = "embeddings.npy"


def default_static_dir() -> Path:
    root = Path(os.environ.get("LLM_AUCTION_CACHE", Path.home() / ".cache" / "llm-auction"))
    return root / STATIC_NAME


@torch.inference_mode()
def distill(teacher_dir: str | Path, out: Path, dims: int = DIMS, batch: int = 1024) -> Path:
    """Distil the teacher's vocabulary into `out` (written atomically: a killed build leaves nothing)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    model = AutoModel.from_pretrained(teacher_dir).eval()
    ids = torch.arange(len(tokenizer))
    vectors = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch, None]
        inputs = torch.cat([torch.full_like(chunk, tokenizer.cls_token_id), chunk,
                            torch.full_like(chunk, tokenizer.sep_token_id)], 1)
        vectors.append(model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state.mean(1))
    table = torch.cat(vectors).double()
    centred = table - table.mean(0)
    _, _, components = torch.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:dims].T
    rank = ids.double() + 1
    zipf = (1 / rank) / (1 / rank).sum()
    weighted = (reduced * (SIF / (SIF + zipf))[:, None]).float().numpy()
    work = out.parent / f".{out.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    np.save(work / TABLE_FILE, weighted)
    tokenizer.save_pretrained(work)
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return out


class StaticEncoder:
    """Unit-norm mean of token vectors; same interface as `judge.encoder.SentenceEncoder`."""

    def __init__(self, model_dir: str | Path, max_length: int = 128):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.table = np.load(Path(model_dir) / TABLE_FILE)
        self.max_length = max_length

    @classmethod
    def distilled(cls, teacher_dir: str | Path, cache: Path | None = None) -> StaticEncoder:
        """The encoder distilled from `teacher_dir`, distilling it into `cache` the first time."""
        cache = cache or default_static_dir()
        if not (cache / TABLE_FILE).is_file():
            start = time.perf_counter()
            distill(teacher_dir, cache)
            print(f"distilled the static encoder into {cache} in {time.perf_counter() - start:.1f}s", flush=True)
        return cls(cache)

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=True,
                             max_length=self.max_length)["input_ids"]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for row, tokens in enumerate(ids):
            if tokens:
                out[row] = self.table[tokens].mean(0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)
