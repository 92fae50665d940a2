"""The requests one rollout pass samples: reward phase, policy phase, evaluation and the bid probe.

Both phases of epoch t sample the same policy (pi_{t-1}), and so does the evaluation of pi_{t-1}, so
one pass over one engine serves all of them; each row says what it is for in `purpose`. Bids are
fresh per phase and epoch; the test split keeps its one fixed draw, as every evaluation does.
"""
from __future__ import annotations

import random

from auction.codec import request_to_json
from irpo.config import EvaluationConfig, IRPOConfig
from judge.bids import draw_bids
from judge.simulated_user import SimulatedUser
from judge.world import Query, World

PURPOSES = ("reward", "policy", "eval", "probe")


def _row(world: World, query: Query, bids: dict[str, float], purpose: str, n: int, probe: str = "",
         temperature: float | None = None) -> dict:
    request = world.request(query, bids)
    # the policy phase's DPO conditions on the prompt the engine saw: its samples keep it (once per request)
    return {"request_id": query.query_id, "purpose": purpose, "n": n, "temperature": temperature, "probe_ad": probe,
            "keep_prompt": purpose == "policy", "request": request_to_json(request)}


def training_rows(world: World, config: IRPOConfig, epoch: int, bid_seed: int) -> list[dict]:
    """Reward- and policy-phase rows of `epoch`: fresh train queries and fresh bids for each phase."""
    train = world.split("train")
    rows = []
    phases = (("reward", config.reward_queries, config.reward_samples_per_query, config.reward_temperature),
              ("policy", config.policy_queries, config.policy_samples_per_query, config.policy_temperature))
    for purpose, count, n, temperature in phases:
        rng = random.Random(f"{config.seed}|{purpose}|{epoch}")
        chosen = train if count is None or count >= len(train) else rng.sample(train, count)
        for query in chosen:
            bids = draw_bids(bid_seed, purpose, epoch, query.query_id, world.candidate_ids(query))
            rows.append(_row(world, query, bids, purpose, n, temperature=temperature))
    return rows


def test_bids(world: World, query: Query, seed: int) -> dict[str, float]:
    return draw_bids(seed, "test", 0, query.query_id, world.candidate_ids(query))


def evaluation_rows(world: World, user: SimulatedUser, config: EvaluationConfig, seed: int) -> list[dict]:
    """Test requests with their fixed bids, then the probe: one relevant ad's bid swept over the grid."""
    test = world.split("test")[: config.requests]
    rows = [_row(world, q, test_bids(world, q, seed), "eval", config.samples_per_request) for q in test]
    for query, ad_id in probe_targets(world, user, config.probe_requests):
        bids = test_bids(world, query, seed)
        for bid in config.probe_bids:
            rows.append(_row(world, query, {**bids, ad_id: float(bid)}, "probe", config.probe_samples, ad_id))
    return rows


def probe_targets(world: World, user: SimulatedUser, count: int) -> list[tuple[Query, str]]:
    """The first `count` test requests with a relevant candidate, each with its most relevant one."""
    targets = []
    for query in world.split("test"):
        relevance = {a: user.model.relevance(query, world.ads[a]) for a in world.candidate_ids(query)}
        best = max(sorted(relevance), key=lambda a: relevance[a])
        if relevance[best] > 0:
            targets.append((query, best))
        if len(targets) == count:
            break
    return targets
