"""What `llm-auction train` runs after the IRPO loop: the mechanism comparison on the final policy
(stage `final/evaluation`: report.md, plots, W&B) and the bid response of the base and every epoch."""
from __future__ import annotations

import logging
from pathlib import Path

from evaluation.bid_curves import curve_summary
from evaluation.epoch_report import bid_response_report
from evaluation.mechanisms import Checkpoints, TestSet, evaluate_mechanisms, test_requests
from irpo.config import EvaluationConfig
from irpo.loop.driver import after_loop_step
from irpo.loop.held_out import probe_curves
from irpo.loop.run_store import RunStore
from irpo.loop.sampling import read_samples
from irpo.loop.training_run import FinishedLoop

STAGE = "final/evaluation"
NEEDS_REWARD_MODEL = ("mosaic",)  # ranks its candidates with the run's pCTR model

log = logging.getLogger(__name__)


class ComparisonAfterTraining:
    def __init__(self, evaluation: EvaluationConfig, fits_reward_model: bool = True):
        """`fits_reward_model`: whether the run leaves a pCTR model (irpo.reward=pctr); without one, the
        mechanisms that need it are left out of the comparison rather than failing it after the loop."""
        self.evaluation = evaluation
        self.mechanisms = [m for m in evaluation.report_mechanisms if fits_reward_model or m not in NEEDS_REWARD_MODEL]
        self.left_out = [m for m in evaluation.report_mechanisms if m not in self.mechanisms]
        self.stages = (STAGE,) if self.mechanisms else ()

    def __call__(self, loop: FinishedLoop) -> None:
        store, report = loop.store, loop.report
        if self.left_out:
            log.warning("comparison: %s left out (the run's reward fits no pCTR model to rank candidates with)",
                        ", ".join(self.left_out))
        if self.stages:
            comparison = store.run(STAGE, lambda out: self.compare(loop, out))
            report["mechanism_comparison"] = str(store.path(STAGE) / "report.md")
            store.write_report(report)
            step = after_loop_step(loop.inputs.irpo.epochs)
            loop.tracker.log({f"compare/{name}/{key}": value for name, metrics in comparison.result.items()
                              for key, value in metrics.items() if isinstance(value, (int, float))}, step=step)
            plots = store.path(STAGE)
            loop.tracker.images({f"compare/{p.stem}": str(p) for p in sorted(plots.glob("*.png"))}, step=step)
        if report["epochs"] and report["epochs"][-1].get("metrics"):
            bid_response_report(report, store.path(STAGE) if self.stages else store.root)

    def compare(self, loop: FinishedLoop, out: Path) -> dict:
        """The comparison on the final policy: what `make run` leaves to read (report.md, PNGs)."""
        inputs = loop.inputs
        requests = test_requests(inputs.user.world, inputs.judge.seed, self.evaluation.report_requests)
        measured = self.measured_curves(loop.store) if inputs.judge.kind == "simulated" else {}
        tests = TestSet(inputs.user, requests, measured)
        checkpoints = Checkpoints(loop.store.path("final/policy"), loop.base, loop.store.path("final/reward_model"))
        report = evaluate_mechanisms(checkpoints, self.mechanisms, tests, inputs.judge,
                                     inputs.rollout, inputs.auction, self.evaluation, out)
        return report["mechanisms"]

    def measured_curves(self, store: RunStore) -> dict[str, dict]:
        """The base's and the final policy's monotonicity curves from the run's own probe answers (the first
        and the last evaluation pass: same probe requests, bids and answers per bid as the comparison's)."""
        curves = {}
        for name, stage in (("base", "epoch_1/samples"), ("llm_auction", "final/samples")):
            probe = probe_curves(read_samples(store.path(stage), "probe"))
            if probe:
                grid = [bid for bid, _ in next(iter(probe.values()))]
                curves[name] = curve_summary(grid, [[v for _, v in c] for c in probe.values()],
                                             self.evaluation.probe_samples)
        return curves
