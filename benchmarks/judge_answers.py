"""Write a JSONL file of ad-integrated answers for a world's test queries (input for `llm-auction judge`).

Answers are simple English templates around one or two candidate ads (one relevant when there is one):
enough to exercise a judge, not a policy. Run: python benchmarks/judge_answers.py --world paper --n 40 --out F
"""
from __future__ import annotations

import argparse
import json
import random

from auction.parser import render_mention
from judge.environment import build_world


def answers(world_name: str, n: int, seed: int = 0) -> list[dict]:
    world, rng = build_world(world_name, 0), random.Random(seed)
    rows = []
    for query in world.split("test")[:n]:
        ids = list(world.candidate_ids(query))
        on_topic = [a for a in ids if world.ads[a].category in query.topics] or ids
        picks = [rng.choice(on_topic)] + ([rng.choice(ids)] if rng.random() < 0.5 else [])
        picks = list(dict.fromkeys(picks))
        sentences = [f"A good place to start is to set a small, regular goal for {query.topics[0]}."]
        for ad_id in picks:
            ad = world.ads[ad_id]
            sentences.append(f"Many people like {render_mention(ad.as_ad())} for {ad.category}.")
        rows.append({"request_id": query.query_id, "answer": " ".join(sentences)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", default="paper")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w") as handle:
        for row in answers(args.world, args.n):
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
