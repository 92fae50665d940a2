"""Mechanisms side by side on the same requests and bids, scored with the same click model.

Each mechanism serves every request in one batch of generations and yields a MechanismOutcome per
request; `request_scores` turns it into expected per-request scores (evaluation.stats aggregates them).
Revenue is what the mechanism charges in expectation: per-click mechanisms (LLM-Auction, base) sum
cpc x expected clicks over their answers, per-impression ones (MOSAIC, segment, prominence) their
ex-ante expected payments. Reward is R = sum b_i p_i - lambda s_resp with the judge's clicks (exact,
for the simulated user) and, where a reward model is given, with pCTR.
"""
from __future__ import annotations

import dataclasses
import random

import numpy as np

from auction.config import AuctionConfig
from auction.mechanisms import (
    ProminenceRule,
    run_llm_auction,
    run_mosaic,
    run_prominence,
    run_segment_auction,
)
from auction.mechanisms.protocols import ClickModel, Generator, MechanismOutcome, answers_click_probs
from auction.parser import ParsedAnswer, parse_request_answer, render_mention
from auction.payments import expected_payments
from auction.reward import response_cost, response_reward
from auction.types import AuctionRequest
from evaluation.stats import SCORE_FIELDS
from judge.optimum import Allocation, bid_blind_allocation, optimal_allocation
from judge.simulated_user import SimulatedUser

MECHANISMS = ("base", "llm_auction", "mosaic", "segment", "prominence", "optimum", "bid_blind_optimum")
MOSAIC_CANDIDATES, MOSAIC_TAU, SEGMENTS = 20, 1.0, 2
PROMINENCE = ProminenceRule(alpha=1.0, slots=3, min_share=0.1)  # position_decay: the simulated user's
DESCRIPTIONS = {
    "base": "the base policy, same prompt; each shown ad pays its bid per click",
    "llm_auction": "the trained policy allocates; each shown ad pays its bid per click (first price)",
    "mosaic": f"{MOSAIC_CANDIDATES} base answers scored by R with the pCTR model, one served "
              f"(softmax, tau {MOSAIC_TAU:g}); Rochet payments",
    "segment": f"{SEGMENTS} segment winners drawn with probability b q / sum b q before generation, the base "
               "policy writes around exactly them; Myerson payments for q clicks per segment won",
    "prominence": f"shares (b q)^{PROMINENCE.alpha:g} / sum; the {PROMINENCE.slots} largest of at least "
                  f"{PROMINENCE.min_share:.0%} shown, largest first, written by the base policy; Myerson payments "
                  "for the clicks of each place",
    "optimum": "the simulated user's best allocation, ideally placed (upper bound, exact)",
    "bid_blind_optimum": "the best allocation that sees relevance but not bids, at the true bids (exact)",
}


def relevance_of(user: SimulatedUser, request: AuctionRequest) -> dict[str, float]:
    return user.allocation_inputs(request)[0]


class IdeallyPlaced:
    """Clicks of an upper-bound allocation: every mention native, so p = relevance x decay^position."""

    def __init__(self, user: SimulatedUser):
        self.user = user

    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        relevance = relevance_of(self.user, request)
        return {a.ad_id: relevance[a.ad_id] * self.user.config.position_decay**a.position for a in answer.inserted}


def allocation_outcome(request: AuctionRequest, allocation: Allocation) -> MechanismOutcome:
    """An upper-bound mechanism's answer: its ads in the allocation's order (scored by IdeallyPlaced)."""
    text = " ".join(f"try {render_mention(request.by_id[a].ad)} ." for a in allocation.ad_ids)
    return MechanismOutcome((parse_request_answer(text, request),), (1.0,), generations=0,
                            cost_per_click=request.bids())


def run_mechanism(name: str, requests: list[AuctionRequest], generator: Generator | None, user: SimulatedUser,
                  auction: AuctionConfig, reward_clicks: ClickModel | None, draws: int,
                  seed: int) -> list[MechanismOutcome]:
    """Mechanism `name` on every request; sampled mechanisms draw `draws` answers per request."""
    if name in ("base", "llm_auction"):
        return run_llm_auction(requests, generator, draws, seed)
    if name == "mosaic":
        if reward_clicks is None:
            raise ValueError("mosaic: needs a reward model (--reward-model DIR) to score its candidates")
        return run_mosaic(requests, generator, reward_clicks, auction, MOSAIC_CANDIDATES, MOSAIC_TAU, seed)
    relevances = [relevance_of(user, r) for r in requests]
    if name == "segment":
        return run_segment_auction(requests, generator, relevances, SEGMENTS, draws, random.Random(seed))
    if name == "prominence":
        rule = dataclasses.replace(PROMINENCE, position_decay=user.config.position_decay)
        return run_prominence(requests, generator, relevances, rule, draws, seed)
    if name in ("optimum", "bid_blind_optimum"):
        best = optimal_allocation if name == "optimum" else bid_blind_allocation
        return [allocation_outcome(r, best(r.bids(), *user.allocation_inputs(r), user.config, auction))
                for r in requests]
    raise ValueError(f"mechanisms: unknown mechanism {name!r}; choose from {', '.join(MECHANISMS)}")


def revenue(outcome: MechanismOutcome, clicks: list[dict[str, float]]) -> float:
    """Per-impression mechanisms: their ex-ante expected payments, whatever was drawn. Per-click ones:
    cpc x expected clicks of the shown ads, averaged over the answers with their serving probabilities."""
    if outcome.expected_payments:
        return sum(outcome.expected_payments.values())
    return sum(p * sum(expected_payments(answer, outcome.cost_per_click, c).values())
               for answer, p, c in zip(outcome.answers, outcome.probs, clicks))


def request_scores(request: AuctionRequest, outcome: MechanismOutcome, judge: ClickModel,
                   reward_clicks: ClickModel | None, auction: AuctionConfig, optimum: float) -> list[float]:
    """One request's scores (evaluation.stats.SCORE_FIELDS), each expected over the served answers."""
    bids, cost, weight = request.bids(), auction.response_cost, auction.penalty_weight
    clicks = answers_click_probs(judge, request, outcome.answers)
    totals = dict.fromkeys(SCORE_FIELDS, 0.0)
    totals["reward_pctr"] = 0.0 if reward_clicks is not None else float("nan")  # no reward model: no figure
    if reward_clicks is not None:
        for answer, p, pctr in zip(outcome.answers, outcome.probs,
                                   answers_click_probs(reward_clicks, request, outcome.answers)):
            totals["reward_pctr"] += p * response_reward(answer, bids, pctr, cost, weight)
    for answer, p, c in zip(outcome.answers, outcome.probs, clicks):
        totals["reward"] += p * response_reward(answer, bids, c, cost, weight)
        totals["clicks"] += p * sum(c.values())
        totals["ads"] += p * len(answer.inserted)
        totals["format_errors"] += p * bool(answer.errors)
        totals["response_cost"] += p * response_cost(answer, cost)
    totals["revenue"] = revenue(outcome, clicks)
    totals["optimum"] = optimum
    return [totals[f] for f in SCORE_FIELDS]


def score_table(requests: list[AuctionRequest], outcomes: list[MechanismOutcome], judge: ClickModel,
                reward_clicks: ClickModel | None, auction: AuctionConfig, optima: list[float]) -> np.ndarray:
    """(requests x SCORE_FIELDS) scores of one mechanism."""
    return np.array([request_scores(r, o, judge, reward_clicks, auction, opt)
                     for r, o, opt in zip(requests, outcomes, optima)], dtype=float)
