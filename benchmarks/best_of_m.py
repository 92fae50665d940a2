"""How much a policy phase could learn from its own answers: best-of-M headroom per epoch of a finished run.

    .venv/bin/python benchmarks/best_of_m.py --run runs/default

For each epoch's policy-phase answers (pi_{t-1}'s, M per query, fresh bids), against the simulated user's
optimum on the same requests: the efficiency of the average answer (what the policy does), of the best of
its M answers by exact reward (what a perfect ranking could pick as winners), and how many of the M answers
are distinct. One JSON line per epoch.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from auction.reward import response_reward
from irpo.loop.held_out import optimum_objectives
from irpo.loop.sampling import read_samples
from judge.environment import get_world, simulated_user
from llm_auction.config import load_config


def headroom(run: Path, epoch: int) -> dict:
    config = load_config(run / "config.yaml")
    auction = config.auction
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    by_query = defaultdict(list)
    for sample in read_samples(run / f"epoch_{epoch}" / "samples", "policy"):
        by_query[sample.request_id].append(sample)
    optimum, blind = optimum_objectives(user, auction, [answers[0].request for answers in by_query.values()])
    rewards = [[response_reward(s.answer, s.bids, s.click_probs, auction.response_cost, auction.penalty_weight)
                for s in answers] for answers in by_query.values()]
    return {"epoch": epoch, "answers_of": f"pi_{epoch - 1}", "queries": len(by_query),
            "m": max(len(answers) for answers in by_query.values()),
            "mean_efficiency": round(sum(np.mean(r) for r in rewards) / optimum, 3),
            "best_of_m_efficiency": round(sum(max(r) for r in rewards) / optimum, 3),
            "bid_blind_efficiency": round(blind / optimum, 3),
            "distinct_answers_per_query": round(float(np.mean([len({s.answer.text for s in a})
                                                                  for a in by_query.values()])), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True)
    args = parser.parse_args()
    epochs = sorted(int(p.name.split("_")[1]) for p in args.run.glob("epoch_*") if (p / "samples").is_dir())
    for epoch in epochs:
        print(json.dumps(headroom(args.run, epoch)), flush=True)


if __name__ == "__main__":
    main()
