"""The auction's typed config section. Every default of the mechanism lives here and nowhere else."""
from __future__ import annotations

from pydantic import Field

from auction.strict_config import StrictModel


class ResponseCostConfig(StrictModel):
    """s_resp(y) = per_ad_cost * (#ads inserted) + per_error_cost * (#format errors).

    The paper does not publish these constants (METHOD.md section 1). The per-ad cost makes an ad that
    nobody clicks cost reward: b_i * p_i - lambda * per_ad_cost < 0 when p_i is near zero.
    """

    per_ad_cost: float = Field(10.0, ge=0, description="cost of each inserted ad, in bid units")
    per_error_cost: float = Field(20.0, ge=0, description="cost of each format error, in bid units")


class AuctionConfig(StrictModel):
    """Mechanism settings: the response penalty, its weight, and the request limits."""

    response_cost: ResponseCostConfig = ResponseCostConfig()
    penalty_weight: float = Field(1.0, ge=0, description="lambda in R(y) = sum b_i p_i - lambda s_resp(y)")
    max_candidates: int = Field(100, ge=1, description="most candidate ads one request may carry")
    max_bid: float = Field(1000.0, gt=0, description="largest accepted bid per click")
