"""Where the comparison after training spends its time, on a finished run, back to back in one process.

    .venv/bin/python benchmarks/comparison_time.py --run runs/default [--answers 60]

1. pCTR scoring of MOSAIC-sized answer sets: one `click_probs` call per answer against one
   `answers_click_probs` call per request (the same answers and probabilities).
2. The whole comparison (`train`'s `final/evaluation`, into a scratch directory): generating the base's
   and the final policy's monotonicity curves again, against reading them from the run's own probe answers.
Prints one JSON line per measurement; the ratios are what to read (the machine is shared and noisy).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from auction.parser import parse_request_answer  # noqa: E402
from cluster.layout import load_layout  # noqa: E402
from evaluation.after_training import ComparisonAfterTraining  # noqa: E402
from irpo.loop.run_store import RunStore  # noqa: E402
from irpo.loop.sampling import read_samples  # noqa: E402
from irpo.loop.stages import StageInputs  # noqa: E402
from irpo.loop.training_run import FinishedLoop  # noqa: E402
from irpo.reward.click_model import PCTRClickModel  # noqa: E402
from judge.environment import get_world, simulated_user  # noqa: E402
from llm_auction.config import load_config  # noqa: E402
from rollout.prompt import resolve_style  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pctr_scoring(run: Path, requests: int) -> dict:
    """Seconds to score every policy-phase answer of epoch 1's first `requests` requests, both ways."""
    model = PCTRClickModel(run / "final" / "reward_model")
    by_request: dict[str, list] = {}
    for sample in read_samples(run / "epoch_1" / "samples", "policy"):
        by_request.setdefault(sample.request_id, []).append(sample)
    groups = [(s[0].request, [parse_request_answer(x.answer.text, x.request) for x in s])
              for s in list(by_request.values())[:requests]]
    start = time.perf_counter()
    alone = [[model.click_probs(request, a) for a in answers] for request, answers in groups]
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    batched = [model.answers_click_probs(request, answers) for request, answers in groups]
    per_request = time.perf_counter() - start
    agree = all(abs(x[k] - y[k]) < 1e-5 for a, b in zip(alone, batched) for x, y in zip(a, b) for k in x)
    return {"measure": "pctr_scoring", "answers": sum(len(a) for _, a in groups), "one_call_per_answer_s":
            round(one_by_one, 2), "one_call_per_request_s": round(per_request, 2), "same_probabilities": agree}


class Regenerated(ComparisonAfterTraining):
    """The comparison as it was: every curve generated again."""

    def measured_curves(self, store: RunStore) -> dict[str, dict]:
        return {}


def comparison(run: Path, variant: type[ComparisonAfterTraining]) -> dict:
    config = load_config(run / "config.yaml")
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    inputs = StageInputs(config.irpo, config.rollout, config.judge, config.auction,
                         load_layout(ROOT / "ray_config.yaml").roles, user,
                         resolve_style(config.rollout.prompt_style, user.world.name), run / "ray_results")
    base = Path(json.loads((run / "final" / "evaluation" / "report.json").read_text())["base_policy"])
    loop = FinishedLoop(inputs, base, RunStore(run), None, {})
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        variant(config.irpo.evaluation).compare(loop, Path(scratch))
        return {"measure": "comparison", "variant": variant.__name__, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True, help="a finished `llm-auction train` run directory")
    parser.add_argument("--answers", type=int, default=60, help="requests whose answers the pCTR timing scores")
    args = parser.parse_args()
    print(json.dumps(pctr_scoring(args.run, args.answers)), flush=True)
    for variant in (Regenerated, ComparisonAfterTraining):
        print(json.dumps(comparison(args.run, variant)), flush=True)


if __name__ == "__main__":
    main()
