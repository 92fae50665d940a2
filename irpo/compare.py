"""Mechanisms side by side on the same requests and bids, scored with the same click model.

Every mechanism yields a MechanismOutcome per request. Revenue is what the mechanism charges in
expectation: per-click mechanisms (LLM-Auction, base) sum cpc x expected clicks, per-impression ones
(MOSAIC, segment, prominence) their expected payments. Reward is R = sum b_i p_i - lambda s_resp with
the judge's clicks (exact, for the simulated user) and, where a reward model is given, with pCTR.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from auction.config import AuctionConfig
from auction.mechanisms import run_llm_auction, run_mosaic, run_prominence, run_segment_auction
from auction.mechanisms.protocols import ClickModel, MechanismOutcome
from auction.parser import ParsedAnswer, parse_answer, render_mention
from auction.reward import response_cost, response_reward
from auction.types import AuctionRequest
from judge.optimum import Allocation, bid_blind_allocation, optimal_allocation
from judge.simulated_user import SimulatedUser

MECHANISMS = ("base", "llm_auction", "mosaic", "segment", "prominence", "optimum", "bid_blind_optimum")
MOSAIC_CANDIDATES, MOSAIC_TAU, SEGMENTS, PROMINENCE_ALPHA = 20, 1.0, 2, 1.0


@dataclass(frozen=True)
class Scored:
    outcome: MechanismOutcome
    seconds: float


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
    answer = parse_answer(text, [c.ad for c in request.candidates])
    return MechanismOutcome(answer, generations=0, cost_per_click={a: request.bids()[a] for a in allocation.ad_ids})


def mechanism_runner(name: str, generators: dict, user: SimulatedUser, auction: AuctionConfig,
                     reward_clicks: ClickModel | None, seed: int) -> Callable[[AuctionRequest], MechanismOutcome]:
    """A function serving one request with mechanism `name`."""
    rng = random.Random(seed)
    if name == "base":
        return lambda r: run_llm_auction(r, generators["base"], seed=rng.randrange(2**31))
    if name == "llm_auction":
        return lambda r: run_llm_auction(r, generators["llm_auction"], seed=rng.randrange(2**31))
    if name == "mosaic":
        if reward_clicks is None:
            raise ValueError("mosaic: needs a reward model (--reward-model DIR) to score its candidates")
        return lambda r: run_mosaic(r, generators["base"], reward_clicks, auction, MOSAIC_CANDIDATES, MOSAIC_TAU, rng)
    if name == "segment":
        return lambda r: run_segment_auction(r, generators["base"], relevance_of(user, r), SEGMENTS, rng)
    if name == "prominence":
        return lambda r: run_prominence(r, generators["base"], relevance_of(user, r), PROMINENCE_ALPHA,
                                        seed=rng.randrange(2**31))
    if name in ("optimum", "bid_blind_optimum"):
        best = optimal_allocation if name == "optimum" else bid_blind_allocation

        def allocate(r: AuctionRequest) -> MechanismOutcome:
            return allocation_outcome(r, best(r.bids(), *user.allocation_inputs(r), user.config, auction))

        return allocate
    raise ValueError(f"mechanisms: unknown mechanism {name!r}; choose from {', '.join(MECHANISMS)}")


def run_mechanism(runner, requests: list[AuctionRequest]) -> list[Scored]:
    scored = []
    for request in requests:
        start = time.perf_counter()
        outcome = runner(request)
        scored.append(Scored(outcome, time.perf_counter() - start))
    return scored


def revenue(outcome: MechanismOutcome, clicks: dict[str, float]) -> float:
    """Per-impression mechanisms charge only the ads the served answer really shows."""
    if outcome.expected_payments:
        return sum(outcome.expected_payments.get(a, 0.0) for a in outcome.answer.ad_ids)
    return sum(outcome.cost_per_click[a] * clicks.get(a, 0.0) for a in outcome.answer.ad_ids)


def mechanism_metrics(requests: list[AuctionRequest], scored: list[Scored], judge: ClickModel,
                      reward_clicks: ClickModel | None, auction: AuctionConfig, optimum_total: float | None) -> dict:
    """The evaluation's metric set for one mechanism over the requests."""
    n = len(requests)
    revenue_sum = reward_sum = pctr_reward_sum = clicks_sum = 0.0
    ads = errors = generations = 0
    for request, item in zip(requests, scored):
        answer: ParsedAnswer = item.outcome.answer
        clicks = judge.click_probs(request, answer)
        revenue_sum += revenue(item.outcome, clicks)
        reward_sum += response_reward(answer, request.bids(), clicks, auction.response_cost, auction.penalty_weight)
        if reward_clicks is not None:
            pctr = reward_clicks.click_probs(request, answer)
            pctr_reward_sum += response_reward(answer, request.bids(), pctr, auction.response_cost,
                                               auction.penalty_weight)
        clicks_sum += sum(clicks.values())
        ads += len(answer.inserted)
        errors += bool(answer.errors)
        generations += item.outcome.generations
    return {
        "revenue_per_query": revenue_sum / n,
        "reward_per_query": reward_sum / n,
        "reward_per_query_pctr": pctr_reward_sum / n if reward_clicks is not None else None,
        "ctr": clicks_sum / ads if ads else 0.0,
        "ads_per_answer": ads / n,
        "format_error_rate": errors / n,
        "allocation_efficiency": reward_sum / optimum_total if optimum_total else None,
        "generations_per_request": generations / n,
        "seconds_per_request": sum(s.seconds for s in scored) / n,
        "mean_response_cost": sum(response_cost(s.outcome.answer, auction.response_cost) for s in scored) / n,
    }
