"""First-price payments: each advertiser pays its bid per realised click (METHOD.md section 1)."""
from __future__ import annotations

from collections.abc import Mapping

from auction.parser import ParsedAnswer


def cost_per_click(answer: ParsedAnswer, bids: Mapping[str, float]) -> dict[str, float]:
    """The price each inserted ad pays if clicked: its own bid (first price)."""
    return {ad_id: float(bids[ad_id]) for ad_id in answer.ad_ids}


def realised_charges(answer: ParsedAnswer, bids: Mapping[str, float], clicked: Mapping[str, bool]) -> dict[str, float]:
    """What each inserted ad is charged for one impression, given which ads were clicked."""
    return {ad_id: cpc if clicked.get(ad_id, False) else 0.0 for ad_id, cpc in cost_per_click(answer, bids).items()}


def expected_payments(
    answer: ParsedAnswer, bids: Mapping[str, float], click_probs: Mapping[str, float]
) -> dict[str, float]:
    """Expected charge of each inserted ad: b_i * p_i(y)."""
    return {ad_id: cpc * click_probs[ad_id] for ad_id, cpc in cost_per_click(answer, bids).items()}
