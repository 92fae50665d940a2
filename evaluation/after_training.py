"""What `llm-auction train` runs after the IRPO loop: the mechanism comparison on the final policy
(stage `final/evaluation`: report.md, plots, W&B) and the bid response of the base and every epoch."""
from __future__ import annotations

from pathlib import Path

from evaluation.epoch_report import bid_response_report
from evaluation.mechanisms import Checkpoints, TestSet, evaluate_mechanisms, test_requests
from irpo.config import EvaluationConfig
from irpo.loop.training_run import FinishedLoop

STAGE = "final/evaluation"


class ComparisonAfterTraining:
    def __init__(self, evaluation: EvaluationConfig):
        self.evaluation = evaluation
        self.stages = (STAGE,) if evaluation.report_mechanisms else ()

    def __call__(self, loop: FinishedLoop) -> None:
        store, report = loop.store, loop.report
        if self.stages:
            comparison = store.run(STAGE, lambda out: self.compare(loop, out))
            report["mechanism_comparison"] = str(store.path(STAGE) / "report.md")
            store.write_report(report)
            step = 4 * loop.inputs.irpo.epochs + 1  # after the final evaluation pass (driver.step_of)
            loop.tracker.log({f"compare/{name}/{key}": value for name, metrics in comparison["result"].items()
                              for key, value in metrics.items() if isinstance(value, (int, float))}, step=step)
            plots = store.path(STAGE)
            loop.tracker.images({f"compare/{p.stem}": str(p) for p in sorted(plots.glob("*.png"))}, step=step)
        if report["epochs"] and report["epochs"][-1].get("metrics"):
            bid_response_report(report, store.path(STAGE) if self.stages else store.root)

    def compare(self, loop: FinishedLoop, out: Path) -> dict:
        """The comparison on the final policy: what `make run` leaves to read (report.md, PNGs)."""
        inputs = loop.inputs
        tests = TestSet(inputs.user, test_requests(inputs.user.world, inputs.judge.seed, self.evaluation.report_requests))
        checkpoints = Checkpoints(loop.store.path("final/policy"), loop.base, loop.store.path("final/reward_model"))
        report = evaluate_mechanisms(checkpoints, list(self.evaluation.report_mechanisms), tests, inputs.judge,
                                     inputs.rollout, inputs.auction, self.evaluation, out)
        return report["mechanisms"]
