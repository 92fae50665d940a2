"""What a policy phase's pairs teach, in the simulated world's terms: diagnostics beside the pairs stage.

R multiplies each ad's click probability by its bid, so a reward model that gives an unrelated ad a
fraction of a related ad's probability lets a high bid buy a win: the pairs then prefer unrelated
high-bid ads and the policy learns to drop relevance. Two figures show it per epoch: the mean click
probability the reward source gives related and unrelated inserted ads (next to the simulated user's
exact one), and the related share of the winners' ads against the losers' (the pairs stage computes it
with `held_out.inserted_ad_traits`, as for every policy's evaluation).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from judge.world import World


def related_mask(rows: pd.DataFrame, world: World) -> np.ndarray:
    """Per click row: is the ad related to the query or its user (`World.is_related`)."""
    return np.array([world.is_related(world.queries[r], a) for r, a in zip(rows["request_id"], rows["ad_id"])],
                    dtype=bool)


def click_probability_by_relevance(rows: pd.DataFrame, exact: Sequence[float], world: World) -> dict[str, float]:
    """Mean click probability of related and of unrelated inserted ads, under R's source (`rows["p"]`) and exact."""
    related, p, exact = related_mask(rows, world), rows["p"].to_numpy(float), np.asarray(exact, dtype=float)
    out = {}
    for name, mask in (("related", related), ("unrelated", ~related)):
        out[f"p_{name}"] = float(p[mask].mean()) if mask.any() else None
        out[f"exact_p_{name}"] = float(exact[mask].mean()) if mask.any() else None
    return out
