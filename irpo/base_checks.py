"""What a base policy knows: the mention format (not the auction), and numbers.

`auction_checks` samples answers on held-out test requests at the training temperature and reports
the format-error rate, ads per answer, and where the inserted ads' bids rank among the candidates
(0.5 on average when ad choice ignores bids). `comparison_accuracy` asks held-out number pairs.
"""
from __future__ import annotations

import random
from statistics import mean

from auction.parser import parse_answer
from irpo.sft_corpus import TASK_SYSTEM, compare_example
from judge.bids import draw_bids
from judge.world import World
from rollout.config import SamplingConfig
from rollout.engine import Engine
from rollout.mention_mask import mention_rules
from rollout.prompt import ad_llm_messages


def bid_percentile(bid: float, bids: list[float]) -> float:
    """Where `bid` ranks among `bids`: 0 for the lowest, 1 for the highest, ties averaged."""
    below = sum(b < bid for b in bids)
    equal = sum(b == bid for b in bids) - 1
    return (below + equal / 2) / (len(bids) - 1)


def auction_checks(engine: Engine, world: World, n_requests: int, sampling: SamplingConfig, seed: int = 0,
                   samples_per_request: int = 2, mask_absent_ads: bool = True) -> dict:
    queries = world.split("test")[:n_requests]
    requests = [world.request(q, draw_bids(seed, "test", 0, q.query_id, world.candidate_ids(q))) for q in queries]
    prompts = [engine.chat_prompt(ad_llm_messages(r, "tiny" if world.name == "tiny" else "full")) for r in requests]
    outputs = engine.generate(prompts, samples_per_request, sampling, seed,
                              token_rules=mention_rules(engine, requests, mask_absent_ads))
    answers, percentiles = [], []
    for request, samples in zip(requests, outputs):
        for sample in samples:
            answer = parse_answer(sample.text, [c.ad for c in request.candidates])
            answers.append(answer)
            bids = list(request.bids().values())
            percentiles += [bid_percentile(request.bids()[a], bids) for a in answer.ad_ids]
    return {
        "answers": len(answers),
        "format_error_rate": sum(bool(a.errors) for a in answers) / len(answers),
        "ads_per_answer": mean(len(a.inserted) for a in answers),
        "inserted_bid_percentile": mean(percentiles) if percentiles else None,
        "inserted_bid_percentile_stderr": (_stderr(percentiles) if len(percentiles) > 1 else None),
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
    outputs = engine.generate(prompts, 1, greedy, seed)
    correct = sum(out[0].text.strip() == e.answer for e, out in zip(examples, outputs))
    assert all(e.messages[0]["content"] == TASK_SYSTEM for e in examples)
    return {"prompts": n, "accuracy": correct / n}
