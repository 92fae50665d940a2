"""Every mechanism on the same test requests, then report.json, report.md and plots (`llm-auction evaluate`).

Engines load one at a time (the base policy serves base, MOSAIC, segment and prominence; the trained
policy serves llm_auction), so two models never share the CPUs' memory.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from auction.codec import request_from_dict
from auction.config import AuctionConfig
from evaluation.bid_curves import continuity_curve, incentive_audit, monotonicity_curve
from evaluation.compare import DESCRIPTIONS, MECHANISMS, IdeallyPlaced, run_mechanism, score_table
from evaluation.plots import curves, mechanism_bars
from evaluation.report import comparison_markdown
from evaluation.stats import metrics_with_intervals, paired_differences, resample_counts
from irpo.config import EvaluationConfig
from irpo.loop.phase_rows import probe_targets, test_bids
from irpo.loop.run_store import write_json_atomic
from irpo.reward.trainer import is_reward_model
from judge.config import JudgeConfig
from judge.jsonl import read_records
from judge.optimum import optimal_allocation
from judge.simulated_user import SimulatedUser
from rollout.config import RolloutConfig
from rollout.factory import make_engine
from rollout.generator import EngineGenerator
from rollout.prompt import resolve_style

log = logging.getLogger(__name__)
BASE_ENGINE = ("base", "mosaic", "segment", "prominence")


class RequestsFileError(ValueError):
    """A --requests file that cannot be used; the message names file, line and field."""


def read_requests(path: str | Path, world) -> list:
    requests = []
    for where, record in read_records(path, RequestsFileError):
        try:
            request = request_from_dict(record)
        except (KeyError, TypeError, ValueError) as err:
            raise RequestsFileError(f"{where}: {err}") from None
        if request.request_id not in world.queries:
            raise RequestsFileError(f"{where}: request_id: {request.request_id!r} is not a query of world "
                                    f"{world.name!r} (the simulated user needs its relevance)")
        requests.append(request)
    return requests


def test_requests(world, seed: int, limit: int | None) -> list:
    return [world.request(q, test_bids(world, q, seed)) for q in world.split("test")[:limit]]


class LLMClickModel:
    """The LLM judge's realised clicks (0/1) as a click model."""

    def __init__(self, judge: JudgeConfig):
        from judge.worker import make_llm_judge

        self.judge, self.seed = make_llm_judge(judge), judge.seed

    def click_probs(self, request, answer) -> dict[str, float]:
        (result,) = self.judge.judge([(request, answer)], seed=self.seed)
        return {a: float(result.clicks.get(a, False)) for a in answer.ad_ids}


@dataclass(frozen=True)
class Checkpoints:
    """The models an evaluation reads: the trained policy, the base it started from, and the pCTR model
    (MOSAIC's selection and the reward under pCTR; None or a directory without a model: neither)."""

    policy: Path
    base: Path
    reward_model: Path | None = None


@dataclass(frozen=True)
class TestSet:
    """The requests every mechanism answers, and the simulated user (with its world) they come from.
    `measured_curves`: monotonicity curves (by mechanism) already measured on this test set's probe with the
    same bids and answers per bid, e.g. by the training run's own evaluation; they are not generated again."""

    user: SimulatedUser
    requests: list
    measured_curves: dict[str, dict] = field(default_factory=dict)


def evaluate_mechanisms(checkpoints: Checkpoints, mechanisms: list[str], tests: TestSet, judge: JudgeConfig,
                        rollout: RolloutConfig, auction: AuctionConfig, evaluation: EvaluationConfig, out: Path) -> dict:
    policy, base, reward_model = checkpoints.policy, checkpoints.base, checkpoints.reward_model
    user, requests, world = tests.user, tests.requests, tests.user.world
    unknown = [m for m in mechanisms if m not in MECHANISMS]
    if unknown:
        raise ValueError(f"--mechanisms: unknown {unknown}; choose from {', '.join(MECHANISMS)}")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    simulated = judge.kind == "simulated"
    judge_clicks = user if simulated else LLMClickModel(judge)
    reward_clicks = None
    if is_reward_model(reward_model):
        from irpo.reward.click_model import PCTRClickModel

        reward_clicks = PCTRClickModel(reward_model)
    optima = [optimal_allocation(r.bids(), *user.allocation_inputs(r), user.config, auction).objective
              if simulated else float("nan") for r in requests]
    counts = resample_counts(len(requests), seed=judge.seed)
    style = resolve_style(rollout.prompt_style, world.name)
    targets = probe_targets(world, user, evaluation.probe_requests)
    probe = [(world.request(q, test_bids(world, q, judge.seed)), ad) for q, ad in targets]
    report = {"world": world.name, "requests": len(requests), "answers_per_request": evaluation.answers_per_request,
              "judge": judge.kind, "mechanisms": {}, "paired": {}, "curves": {"monotonicity": {}, "continuity": {}},
              "audit": None, "policy": str(policy), "base_policy": str(base), "reward_model": str(reward_model)}
    scores = {}
    for engine_dir, names in ((base, [m for m in mechanisms if m in BASE_ENGINE]),
                              (policy, [m for m in mechanisms if m == "llm_auction"]),
                              (None, [m for m in mechanisms if "optimum" in m and simulated])):
        if not names:
            continue
        engine = make_engine(engine_dir, rollout) if engine_dir is not None else None
        generator = (EngineGenerator(engine, style, rollout.sampling, rollout.mask_absent_ads)
                     if engine is not None else None)
        for name in names:
            log.info("evaluating %s on %d requests", name, len(requests))
            began = time.perf_counter()
            outcomes = run_mechanism(name, requests, generator, user, auction, reward_clicks,
                                     evaluation.answers_per_request, judge.seed)
            seconds = time.perf_counter() - began
            clicks = IdeallyPlaced(user) if "optimum" in name else judge_clicks
            scores[name] = score_table(requests, outcomes, clicks, reward_clicks, auction, optima)
            report["mechanisms"][name] = {
                "description": DESCRIPTIONS[name], **metrics_with_intervals(scores[name], counts),
                "generations_per_request": sum(o.generations for o in outcomes) / len(outcomes),
                "answers_per_request": len(outcomes[0].answers), "seconds_per_request": seconds / len(requests)}
            if name in ("base", "llm_auction") and simulated:
                _curves(report, name, generator, probe, tests, evaluation)
            if name == "llm_auction" and simulated:
                report["audit"] = incentive_audit(generator, user, probe, evaluation.probe_samples)
        if engine is not None:
            engine.close()
    if "llm_auction" in scores:
        report["paired"] = {name: paired_differences(scores["llm_auction"], other, counts)
                            for name, other in scores.items() if name != "llm_auction"}
    report["seconds"] = round(time.perf_counter() - start, 1)
    write_outputs(report, out)
    return report


def _curves(report, name, generator, probe, tests: TestSet, evaluation: EvaluationConfig) -> None:
    measured = tests.measured_curves.get(name)
    report["curves"]["monotonicity"][name] = measured or monotonicity_curve(
        generator, tests.user, probe, evaluation.probe_bids, evaluation.probe_samples)
    report["curves"]["continuity"][name] = continuity_curve(generator, tests.user, probe[0],
                                                            evaluation.continuity_answers)


def write_outputs(report: dict, out: Path) -> None:
    write_json_atomic(out / "report.json", report)
    plots = [mechanism_bars(report, out), curves(report, "monotonicity", out), curves(report, "continuity", out)]
    (out / "report.md").write_text(comparison_markdown(report, [p.name for p in plots if p is not None]))
