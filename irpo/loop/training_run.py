"""A training run (`llm-auction train`): the base policy (built if absent), the IRPO driver, whatever
stages the caller adds after the loop (the CLI adds the mechanism comparison), then report.json."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from auction.config import AuctionConfig
from cluster.config import ClusterConfig
from cluster.layout import RayLayout
from cluster.ray_session import init_ray, session_log_dir
from cluster.tracker import Tracker
from irpo.config import IRPOConfig
from irpo.loop.driver import IRPODriver, stage_plan
from irpo.loop.progress import Progress
from irpo.loop.run_store import RunStore, timing_table
from irpo.loop.run_summary import closing_summary, record_invocation
from irpo.loop.stages import StageInputs
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from rollout.config import RolloutConfig
from rollout.prompt import resolve_style

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinishedLoop:
    """What stages after the IRPO loop get: its inputs, the base policy, the run store, the tracker, and
    the loop's report (which they may add to)."""

    inputs: StageInputs
    base: Path
    store: RunStore
    tracker: Tracker
    report: dict


class AfterLoop(Protocol):
    """Stages a caller runs after the loop, inside the same run: they count in the progress plan, log to
    the same W&B run, and are skipped on resume once done."""

    stages: tuple[str, ...]

    def __call__(self, loop: FinishedLoop) -> None: ...


def ensure_base_policy(irpo: IRPOConfig, rollout: RolloutConfig, judge: JudgeConfig, layout: RayLayout,
                       run_dir: Path) -> Path:
    """pi_0: `rollout.policy` when given, else the tiny base policy built into RUN_DIR/base (reused once built)."""
    if rollout.policy is not None:
        path = Path(rollout.policy)
        if path.is_dir() and not (path / "config.json").is_file():
            raise ValueError(f"rollout.policy: {path} is not an HF model directory (no config.json)")
        if not path.exists() and rollout.policy.count("/") != 1:
            raise ValueError(f"rollout.policy: {rollout.policy!r} is neither a directory nor a hub id (org/name)")
        return path.resolve() if path.exists() else Path(rollout.policy)  # a hub id: the cluster downloads it
    from irpo.base.build import build_base

    build_base(judge, str(run_dir / "base"), irpo.base, rollout, layout)
    return (run_dir / "base").resolve()


def run_training(irpo: IRPOConfig, rollout: RolloutConfig, judge: JudgeConfig, auction: AuctionConfig,
                 cluster: ClusterConfig, layout: RayLayout, run_dir: Path, run_config: dict,
                 after_loop: AfterLoop | None = None) -> dict:
    started, run_dir = time.time(), run_dir.resolve()
    previous = RunStore(run_dir).report()
    world = get_world(judge.world, judge.world_seed)
    user = simulated_user(world, judge)
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    link_ray_logs(run_dir)
    progress = Progress(stage_plan(irpo) + list(after_loop.stages if after_loop else ()))
    building = rollout.policy is None and not (run_dir / "base" / "base_report.json").is_file()
    progress.announce("base policy build (~5 min on 2 CPU cores), then " if building else "")
    base_started = time.time()
    base = ensure_base_policy(irpo, rollout, judge, layout, run_dir)
    base_seconds = time.time() - base_started
    inputs = StageInputs(irpo, rollout, judge, auction, layout.roles, user, resolve_style(rollout.prompt_style,
                         world.name), run_dir / "ray_results")
    store = RunStore(run_dir, progress)
    wandb = cluster.wandb
    if all(store.done(stage) for stage in progress.stages):  # a no-op resume: no new W&B directory
        wandb = wandb.model_copy(update={"mode": "disabled"})
    tracker = Tracker(wandb, run_dir, run_config, name=run_dir.name)
    try:
        report = IRPODriver(inputs, store, tracker, base).run()
        if after_loop is not None:
            after_loop(FinishedLoop(inputs, base, store, tracker, report))
        report["stage_seconds"] = store.timings()
        record_invocation(report, previous, started, base_seconds)
        store.write_report(report)
        log.info("stage timings (this run and any run it resumed):\n%s", timing_table(report["stage_seconds"]))
        log.info("%s", closing_summary(report, run_dir))
        return report
    finally:
        tracker.finish()


def link_ray_logs(run_dir: Path) -> None:
    """RUN_DIR/logs/ray: this session's Ray logs (workers, vLLM, DeepSpeed), which the terminal leaves out."""
    source, link = session_log_dir(), run_dir / "logs" / "ray"
    if source is None:
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(source, target_is_directory=True)
