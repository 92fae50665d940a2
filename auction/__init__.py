"""The mechanism, in pure Python: types, the mention parser, reward, payments, metrics, baselines.

Nothing here imports Ray, torch or another project package (DESIGN.md).
"""
from auction.config import AuctionConfig, ResponseCostConfig
from auction.metrics import (
    AnswerOutcome,
    MechanismMetrics,
    continuity,
    monotone_share,
    monotonicity,
    spearman,
    summarize,
)
from auction.parser import FormatError, FormatErrorKind, ParsedAnswer, parse_answer, render_mention
from auction.payments import cost_per_click, expected_payments, realised_charges
from auction.reward import advertiser_value, response_cost, response_reward
from auction.types import (
    Ad,
    AuctionRequest,
    Candidate,
    InsertedAd,
    InvalidAdError,
    UserProfile,
    validate_ad_id,
    validate_bid,
    validate_title,
)

__all__ = [
    "Ad", "AnswerOutcome", "AuctionConfig", "AuctionRequest", "Candidate", "FormatError", "FormatErrorKind",
    "InsertedAd", "InvalidAdError", "MechanismMetrics", "ParsedAnswer", "ResponseCostConfig", "UserProfile",
    "advertiser_value", "continuity", "cost_per_click", "expected_payments", "monotone_share", "monotonicity",
    "parse_answer", "realised_charges", "render_mention", "response_cost", "response_reward", "spearman",
    "summarize", "validate_ad_id", "validate_bid", "validate_title",
]
