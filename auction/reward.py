"""The response penalty s_resp and the response reward R (METHOD.md sections 1 and 3)."""
from __future__ import annotations

from collections.abc import Mapping

from auction.config import ResponseCostConfig
from auction.parser import ParsedAnswer


def response_cost(answer: ParsedAnswer, cost: ResponseCostConfig) -> float:
    """s_resp(y): a cost per inserted ad plus a cost per format error."""
    return cost.per_ad_cost * len(answer.inserted) + cost.per_error_cost * len(answer.errors)


def advertiser_value(answer: ParsedAnswer, bids: Mapping[str, float], click_probs: Mapping[str, float]) -> float:
    """sum over inserted ads of b_i * p_i(y): the expected first-price revenue of the answer."""
    missing = [ad_id for ad_id in answer.ad_ids if ad_id not in click_probs]
    if missing:
        raise KeyError(f"click_probs: no click probability for inserted ads {missing}")
    return sum(bids[ad_id] * click_probs[ad_id] for ad_id in answer.ad_ids)


def response_reward(
    answer: ParsedAnswer,
    bids: Mapping[str, float],
    click_probs: Mapping[str, float],
    cost: ResponseCostConfig,
    penalty_weight: float,
) -> float:
    """R(y) = sum_{i in y} b_i p_i(y) - lambda * s_resp(y)."""
    return advertiser_value(answer, bids, click_probs) - penalty_weight * response_cost(answer, cost)
