"""Word embeddings for the tiny policy from a real pre-trained encoder: what it starts out knowing.

A pre-trained LLM arrives knowing that "beans" goes with coffee and that 90 is more than 12; a tiny
model trained from scratch on a few million tokens learns neither in time (measured: its choice of
ad ignored the question entirely after 836 SFT steps). So the tiny policy's token embeddings start
from all-MiniLM-L6-v2's embedding of each token's text (a mention reads as its ad's title), randomly
projected to the model width, and number tokens 1..100 carry their value as a pre-trained LLM's number
embeddings do: a component that grows with it, and Fourier features that tell neighbours apart.
This is knowledge of language and numbers only: nothing in it favours high bids.
"""
from __future__ import annotations

import re

import numpy as np
import torch

from judge.encoder import SentenceEncoder

MENTION = re.compile(r"^@([^@]+)@\[[^\]]+\]$")


def token_text(token: str) -> str | None:
    """The text whose meaning a token carries, or None for structure (punctuation, JSON pieces, specials)."""
    text = token.strip()
    if match := MENTION.match(text):
        return match.group(1)
    if re.fullmatch(r"[A-Za-z][A-Za-z ]*|\d+", text):
        return text
    return None


def pretrained_embeddings(tokenizer, hidden: int, scale: float, seed: int = 0) -> torch.Tensor:
    """(vocab, hidden) embeddings: encoder meaning where a token has one, random elsewhere; rows of
    norm `scale * sqrt(hidden)` like a random init with std `scale`. Numbers 1..100 get their value too."""
    rng = np.random.default_rng(seed)
    vocab = tokenizer.get_vocab()
    weights = rng.normal(0.0, scale, size=(len(tokenizer), hidden)).astype(np.float32)
    # by token id: get_vocab's order differs between processes, and the encoder's batches (their padding)
    # and the mean below would differ in the last bits, which SFT amplifies into another base policy
    texts = {index: token_text(token) for token, index in sorted(vocab.items(), key=lambda item: item[1])}
    texts = {index: text for index, text in texts.items() if text is not None}
    encoded = SentenceEncoder.packaged().encode(list(texts.values()))
    encoded -= encoded.mean(axis=0)  # the component every text shares says nothing
    projected = encoded @ rng.normal(0.0, 1.0, size=(encoded.shape[1], hidden)).astype(np.float32)
    projected *= scale * np.sqrt(hidden) / np.linalg.norm(projected, axis=1, keepdims=True)
    values = rng.normal(0.0, 1.0, size=(len(number_features(1)), hidden)).astype(np.float32)
    for row, (index, text) in zip(projected, texts.items()):
        weights[index] = row
        if text.isdigit() and 1 <= int(text) <= 100:
            value = number_features(int(text)) @ values
            weights[index] = 0.4 * row + value * scale * np.sqrt(hidden) / np.linalg.norm(value)
    return torch.from_numpy(weights)


def number_features(n: int, frequencies: int = 16) -> np.ndarray:
    """A value ramp (as strong as all the waves together) and cos/sin waves of periods 100/k, k = 1..frequencies."""
    angle = 2 * np.pi * n / 100 * np.arange(1, frequencies + 1)
    ramp = np.sqrt(frequencies) * (n - 50.5) / 49.5
    return np.concatenate([[ramp], np.cos(angle), np.sin(angle)]).astype(np.float32)
