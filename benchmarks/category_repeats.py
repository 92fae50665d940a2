"""How often a policy's answers put two ads of one category, and what those ads are worth.

Run: .venv/bin/python benchmarks/category_repeats.py runs/w12/epoch_1/samples runs/w9/epoch_1/samples
     .venv/bin/python benchmarks/category_repeats.py --simulate
Each argument is a samples stage of a finished run; its policy-phase answers (the epoch's start policy,
sampled as the loop samples it) are read with the simulated user's exact click probabilities. The user
clicks at most the most relevant ad of a category (judge.simulated_user), so an ad that repeats a category
already in the answer earns nothing and still costs the per-ad cost. One line per stage: the share of
answers with two or more related ads that repeat a category, the mean exact click probability of a later ad
that repeats a category and of one that does not, and the share of winners (best exact R per request) with
two or more ads. `--simulate` instead samples allocations directly (no LLM) from a bid-blind sampler with
the base corpus's habits (irpo.base.sft_corpus.base_ads, 1-3 related ads at random, sometimes one unrelated),
with and without distinct categories, on the 281 test requests: its efficiency, best-of-5's, and how many
ads the best of five shows on requests whose optimum shows two.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from auction.config import AuctionConfig
from auction.parser import parse_answer
from auction.reward import response_reward
from irpo.base.sft_corpus import AnswerStyle, answer_with_ads, base_ads
from irpo.loop.phase_rows import test_bids
from irpo.loop.sampling import read_samples
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from judge.optimum import optimal_allocation


def summary(stage: Path, user, auction: AuctionConfig) -> dict:
    world = user.world
    samples = read_samples(stage, "policy")
    multi, repeating, later = 0, 0, {"repeats": [], "new": []}
    best: dict[str, tuple[float, int]] = defaultdict(lambda: (-np.inf, 0))
    for sample in samples:
        query, ads = world.queries[sample.request_id], sample.answer.ad_ids
        probs = sample.expected_clicks(True)
        reward = response_reward(sample.answer, sample.bids, probs, auction.response_cost, auction.penalty_weight)
        best[sample.request_id] = max(best[sample.request_id], (reward, len(ads)))
        if len(ads) < 2 or not all(world.is_related(query, a) for a in ads):
            continue
        categories = [world.ads[a].category for a in ads]
        multi += 1
        repeating += len(set(categories)) < len(categories)
        for position in range(1, len(ads)):
            kind = "repeats" if categories[position] in categories[:position] else "new"
            later[kind].append(probs[ads[position]])
    return {"stage": str(stage), "answers": len(samples), "related_multi_ad_answers": multi,
            "repeat_a_category": round(repeating / max(multi, 1), 3),
            "later_ad_click_p_repeating": round(float(np.mean(later["repeats"])), 3) if later["repeats"] else None,
            "later_ad_click_p_new_category": round(float(np.mean(later["new"])), 3) if later["new"] else None,
            "winners_with_2plus_ads": round(float(np.mean([n >= 2 for _, n in best.values()])), 3)}


def simulate(user, auction: AuctionConfig, style: AnswerStyle, samples: int = 5, seed: int = 7) -> dict:
    """Best-of-`samples` from the corpus's bid-blind sampler on the test requests, exact R."""
    world, rng = user.world, random.Random(seed)
    totals, counts = Counter(), Counter()
    for query in world.split("test"):
        bids = test_bids(world, query, 0)
        request = world.request(query, bids)
        relevance, categories = user.allocation_inputs(request)
        optimum = optimal_allocation(bids, relevance, categories, user.config, auction)
        drawn = []
        for _ in range(samples):
            answer = parse_answer(answer_with_ads(world, query, base_ads(world, query, rng, style), rng),
                                  [c.ad for c in request.candidates])
            drawn.append((response_reward(answer, bids, user.click_probs(request, answer), auction.response_cost,
                                          auction.penalty_weight), len(answer.ad_ids)))
        totals.update(optimum=optimum.objective, sampled=float(np.mean([r for r, _ in drawn])), best=max(drawn)[0])
        if len(optimum.ad_ids) == 2:
            counts[max(drawn)[1]] += 1
    return {"distinct_categories": style.distinct_categories,
            "efficiency": round(totals["sampled"] / totals["optimum"], 3),
            f"best_of_{samples}_efficiency": round(totals["best"] / totals["optimum"], 3),
            "best_answers_ads_where_the_optimum_shows_two": dict(sorted(counts.items()))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stages", nargs="*", type=Path)
    parser.add_argument("--simulate", action="store_true")
    args = parser.parse_args()
    auction, user = AuctionConfig(), simulated_user(get_world("tiny", 0), JudgeConfig())
    for stage in args.stages:
        print(json.dumps(summary(stage, user, auction)), flush=True)
    if args.simulate:
        for distinct in (False, True):
            style = AnswerStyle(error_rate=0.0, distinct_categories=distinct)
            print(json.dumps(simulate(user, auction, style)), flush=True)


if __name__ == "__main__":
    main()
