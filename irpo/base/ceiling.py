"""The behaviour-cloning ceiling: fine-tune a policy on the optimal allocation's answers and check it.

IRPO can only teach what the policy model can represent. Imitating the simulated user's optimal
allocation (every ad placed natively, in the optimal order) for fresh bids on the training queries
shows how much of the optimum this model can reach when told the answer: if it cannot clearly beat
the bid-blind optimum, the model is too small for the task.
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

from auction.config import AuctionConfig
from cluster.layout import TrainerRole
from irpo.base.checks import auction_checks
from irpo.base.sft import sft_policy
from irpo.base.sft_corpus import Example, answer_with_ads
from irpo.config import CeilingConfig
from judge.bids import draw_bids
from judge.optimum import optimal_allocation
from judge.simulated_user import SimulatedUser
from rollout.config import RolloutConfig
from rollout.factory import make_engine
from rollout.prompt import ad_llm_messages

log = logging.getLogger(__name__)


def optimum_examples(user: SimulatedUser, auction: AuctionConfig, bid_draws: int, seed: int) -> Iterator[Example]:
    """For every training query and `bid_draws` fresh bid draws: the prompt and the optimum's answer."""
    world, rng = user.world, random.Random(seed)
    for draw in range(bid_draws):
        for query in world.split("train"):
            bids = draw_bids(seed, "ceiling", draw, query.query_id, world.candidate_ids(query))
            request = world.request(query, bids)
            best = optimal_allocation(bids, *user.allocation_inputs(request), user.config, auction)
            answer = answer_with_ads(world, query, best.ad_ids, rng)
            yield Example(tuple(ad_llm_messages(request, "tiny")), answer, "optimum")


def ceiling_command(policy: Path, out: Path, config: CeilingConfig, user: SimulatedUser, auction: AuctionConfig,
                    rollout: RolloutConfig, role: TrainerRole, check_requests: int = 300) -> dict:
    """Clone the optimum from `policy` into `out`; report both policies' checks in `out/ceiling_report.json`."""
    start = time.perf_counter()
    examples = optimum_examples(user, auction, config.bid_draws, config.sft.seed)
    sft_policy(policy, examples, config.sft, role, out)
    report = {"policy_dir": str(policy), "cloned_dir": str(out),
              "seconds_training": round(time.perf_counter() - start, 1)}
    for name, directory in (("policy", policy), ("cloned", out)):
        engine = make_engine(directory, rollout)
        report[name] = auction_checks(engine, user, check_requests, rollout.sampling, auction=auction)
        engine.close()
    (Path(out) / "ceiling_report.json").write_text(json.dumps(report, indent=2) + "\n")
    log.info("ceiling: efficiency %.3f (policy %.3f, bid-blind optimum %.3f)",
             report["cloned"]["allocation_efficiency"], report["policy"]["allocation_efficiency"],
             report["cloned"]["bid_blind_efficiency"])
    return report
