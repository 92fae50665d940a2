"""What a base policy knows: language and relevance, the mention format, and numbers -- not the auction.

`auction_checks` samples answers on held-out test requests at the training temperature and reports
the format-error rate, ads per answer, where the inserted ads' bids rank among the candidates (0.5 on
average when ad choice ignores bids), the share of inserted ads that relate to the query or the user
next to the share of such candidates (chance), and what the answers are worth under the simulated
user: allocation efficiency, best-of-M efficiency, and the bid-blind optimum's. `comparison_accuracy`
asks held-out number pairs.
"""
from __future__ import annotations

import random
from statistics import mean

from auction.config import AuctionConfig
from auction.metrics import bid_percentile
from auction.parser import parse_request_answer
from auction.reward import response_reward
from irpo.base.sft_corpus import TASK_SYSTEM, compare_example
from judge.bids import draw_bids
from judge.optimum import bid_blind_allocation, optimal_allocation
from judge.simulated_user import SimulatedUser
from rollout.ad_policy import AdPolicy
from rollout.config import SamplingConfig
from rollout.engine import Engine
from rollout.prompt import resolve_style


def auction_checks(engine: Engine, user: SimulatedUser, n_requests: int, sampling: SamplingConfig, seed: int = 0,
                   samples_per_request: int = 4, mask_absent_ads: bool = True,
                   auction: AuctionConfig = AuctionConfig(), prompt_style: str = "auto") -> dict:
    """`prompt_style` as `rollout.prompt_style` (auto: the tiny rendering for the tiny world)."""
    world = user.world
    queries = world.split("test")[:n_requests]
    requests = [world.request(q, draw_bids(seed, "test", 0, q.query_id, world.candidate_ids(q))) for q in queries]
    policy = AdPolicy(engine, resolve_style(prompt_style, world.name), mask_absent_ads)
    outputs = policy.generate(requests, samples_per_request, sampling, seed, logprobs=False)
    answers, percentiles, related, mean_reward, best_reward, optimum, blind = [], [], [], 0.0, 0.0, 0.0, 0.0
    for query, request, samples in zip(queries, requests, outputs):
        bids = request.bids()
        rewards = []
        for sample in samples:
            answer = parse_request_answer(sample.text, request)
            answers.append(answer)
            percentiles += [bid_percentile(bids[a], list(bids.values())) for a in answer.ad_ids]
            related += [world.is_related(query, a) for a in answer.ad_ids]
            rewards.append(response_reward(answer, bids, user.click_probs(request, answer), auction.response_cost,
                                           auction.penalty_weight))
        mean_reward, best_reward = mean_reward + mean(rewards), best_reward + max(rewards)
        inputs = (bids, *user.allocation_inputs(request), user.config, auction)
        optimum += optimal_allocation(*inputs).objective
        blind += bid_blind_allocation(*inputs).objective
    return {
        "requests": len(requests),
        "answers": len(answers),
        "format_error_rate": sum(bool(a.errors) for a in answers) / len(answers),
        "ads_per_answer": mean(len(a.inserted) for a in answers),
        "inserted_bid_percentile": mean(percentiles) if percentiles else None,
        "inserted_bid_percentile_stderr": (_stderr(percentiles) if len(percentiles) > 1 else None),
        "inserted_related_share": mean(related) if related else None,
        "candidates_related_share": mean(world.is_related(q, a) for q in queries for a in world.candidate_ids(q)),
        "allocation_efficiency": mean_reward / optimum,
        f"best_of_{samples_per_request}_efficiency": best_reward / optimum,
        "bid_blind_efficiency": blind / optimum,
        "example": answers[0].text,
    }


def _stderr(values: list[float]) -> float:
    m = mean(values)
    return (sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values)) ** 0.5


def comparison_accuracy(engine: Engine, n: int, seed: int = 0) -> dict:
    """Greedy answers to number pairs that never appeared in training."""
    rng = random.Random(seed)
    examples = [compare_example(rng, held_out=True) for _ in range(n)]
    prompts = [engine.chat_prompt(list(e.messages)) for e in examples]
    greedy = SamplingConfig(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=4)
    outputs = engine.generate(prompts, 1, greedy, seed, logprobs=False)
    correct = sum(out[0].text.strip() == e.answer for e, out in zip(examples, outputs))
    assert all(e.messages[0]["content"] == TASK_SYSTEM for e in examples)
    return {"prompts": n, "accuracy": correct / n}
