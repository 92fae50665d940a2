"""Bids: i.i.d. uniform integers 1..100 per (request, ad), redrawn for every phase and epoch.

Each draw is keyed by (seed, phase, epoch, request) through SHA-256, so it is the same in every
process and on every machine, and the test set keeps one fixed draw (phase "test", epoch 0).
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

BID_LOW, BID_HIGH = 1, 100


def bid_rng(seed: int, phase: str, epoch: int, request_id: str) -> random.Random:
    key = f"{seed}|{phase}|{epoch}|{request_id}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def draw_bids(seed: int, phase: str, epoch: int, request_id: str, ad_ids: Sequence[str]) -> dict[str, float]:
    rng = bid_rng(seed, phase, epoch, request_id)
    return {ad_id: float(rng.randint(BID_LOW, BID_HIGH)) for ad_id in ad_ids}
