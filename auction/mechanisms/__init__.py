"""Mechanisms: LLM-Auction's first-price rule and the baselines of METHOD.md section 6."""
from auction.mechanisms.first_price import run_llm_auction
from auction.mechanisms.mosaic import mosaic_outcome, rochet_payments, run_mosaic, selection_probs, welfare
from auction.mechanisms.myerson import integrate, myerson_payment
from auction.mechanisms.prominence import (
    ProminenceRule,
    allocated_clicks,
    prominence_allocation,
    prominence_payment,
    prominence_shares,
    run_prominence,
)
from auction.mechanisms.protocols import ClickModel, Generation, Generator, MechanismOutcome
from auction.mechanisms.segment import (
    gumbel_max_draw,
    run_segment_auction,
    segment_allocation,
    segment_expected_payments,
    segment_payment,
    segment_winners,
)

__all__ = [
    "ClickModel", "Generation", "Generator", "MechanismOutcome", "ProminenceRule", "allocated_clicks",
    "gumbel_max_draw", "integrate", "mosaic_outcome", "myerson_payment", "prominence_allocation",
    "prominence_payment", "prominence_shares", "rochet_payments", "run_llm_auction", "run_mosaic", "run_prominence",
    "run_segment_auction", "segment_allocation", "segment_expected_payments", "segment_payment", "segment_winners",
    "selection_probs", "welfare",
]
