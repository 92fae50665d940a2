"""MOSAIC (Soumalias et al., NeurIPS 2025): pick one of M sampled answers by reward, Rochet payments.

Selection: P(y_k) proportional to (pi_ref/pi_gen)(y_k) * exp(R(y_k)/tau), the sampled approximation of
the KL-regularised optimum pi* ~ pi_ref exp(R/tau). With W(r) = tau log sum_k w_k exp(r(y_k)/tau),
advertiser i pays p_i = E_P[r_i] - (W(R) - W(R - r_i)): its utility is its contribution to welfare.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from auction.config import AuctionConfig
from auction.mechanisms.protocols import ClickModel, Generation, Generator, MechanismOutcome, answers_click_probs
from auction.parser import parse_request_answer
from auction.reward import response_reward
from auction.types import AuctionRequest


def _log_sum_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _scaled(rewards: Sequence[float], log_weights: Sequence[float], tau: float) -> list[float]:
    if tau <= 0:
        raise ValueError(f"tau: must be > 0, got {tau}")
    if len(rewards) != len(log_weights) or not rewards:
        raise ValueError("MOSAIC: need one log-weight per candidate and at least one candidate")
    return [lw + r / tau for r, lw in zip(rewards, log_weights)]


def selection_probs(rewards: Sequence[float], log_weights: Sequence[float], tau: float) -> list[float]:
    """Probability of serving each candidate: softmax of log w_k + R_k / tau."""
    logits = _scaled(rewards, log_weights, tau)
    norm = _log_sum_exp(logits)
    return [math.exp(v - norm) for v in logits]


def welfare(rewards: Sequence[float], log_weights: Sequence[float], tau: float) -> float:
    """W(r) = tau log sum_k w_k exp(r_k / tau), the regularised welfare of the selection."""
    return tau * _log_sum_exp(_scaled(rewards, log_weights, tau))


def rochet_payments(
    advertiser_rewards: dict[str, Sequence[float]],
    rewards: Sequence[float],
    log_weights: Sequence[float],
    tau: float,
) -> dict[str, float]:
    """Expected payment of each advertiser: E_P[r_i] - (W(R) - W(R - r_i)), always >= 0 by convexity."""
    probs = selection_probs(rewards, log_weights, tau)
    full = welfare(rewards, log_weights, tau)
    payments = {}
    for ad_id, own in advertiser_rewards.items():
        without = [r - o for r, o in zip(rewards, own)]
        expected_own = sum(p * o for p, o in zip(probs, own))
        payments[ad_id] = max(0.0, expected_own - (full - welfare(without, log_weights, tau)))
    return payments


def mosaic_outcome(request: AuctionRequest, generations: Sequence[Generation], click_model: ClickModel,
                   config: AuctionConfig, tau: float) -> MechanismOutcome:
    """Score M sampled answers with R under `click_model`; serve each with its selection probability and
    charge Rochet payments (expected over the selection, so exact given the M answers)."""
    bids = request.bids()
    answers = tuple(parse_request_answer(g.text, request) for g in generations)
    probs = answers_click_probs(click_model, request, answers)
    rewards = [
        response_reward(a, bids, p, config.response_cost, config.penalty_weight) for a, p in zip(answers, probs)
    ]
    own = {ad_id: [bids[ad_id] * p.get(ad_id, 0.0) for p in probs] for ad_id in bids}
    log_weights = [0.0 if g.ref_logprob is None else g.ref_logprob - g.logprob for g in generations]
    return MechanismOutcome(answers, tuple(selection_probs(rewards, log_weights, tau)), generations=len(answers),
                            expected_payments=rochet_payments(own, rewards, log_weights, tau))


def run_mosaic(requests: Sequence[AuctionRequest], generator: Generator, click_model: ClickModel,
               config: AuctionConfig, n_candidates: int, tau: float, seed: int = 0) -> list[MechanismOutcome]:
    """M answers per request in one batch, then each request's selection and payments."""
    batches = generator.generate(requests, n_candidates, seed=seed)
    return [mosaic_outcome(r, g, click_model, config, tau) for r, g in zip(requests, batches)]
