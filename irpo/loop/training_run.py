"""A training run (`llm-auction train`): the base policy (built if absent), the IRPO driver, whatever
stages the caller adds after the loop (the CLI adds the mechanism comparison), then report.json."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from auction.config import AuctionConfig
from cluster.config import ClusterConfig
from cluster.layout import RayLayout
from cluster.ray_session import init_ray, session_log_dir
from cluster.tracker import Tracker
from irpo.base.shipped import shipped_base_for, ships
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


@dataclass(frozen=True)
class TrainingSetup:
    """What one training run reads: each package's config section, the cluster layout, the run directory,
    and the whole experiment config (as W&B records it)."""

    irpo: IRPOConfig
    rollout: RolloutConfig
    judge: JudgeConfig
    auction: AuctionConfig
    cluster: ClusterConfig
    layout: RayLayout
    run_dir: Path
    run_config: dict


def ensure_base_policy(setup: TrainingSetup) -> Path:
    """pi_0: `rollout.policy` when given; else the shipped tiny base when `irpo.base` is the config it was
    built with; else a tiny base built into RUN_DIR/base (reused once built)."""
    policy = setup.rollout.policy
    if policy is not None:
        path = Path(policy)
        if path.is_dir() and not (path / "config.json").is_file():
            raise ValueError(f"rollout.policy: {path} is not an HF model directory (no config.json)")
        if not path.exists() and policy.count("/") != 1:
            raise ValueError(f"rollout.policy: {policy!r} is neither a directory nor a hub id (org/name)")
        return path.resolve() if path.exists() else Path(policy)  # a hub id: the cluster downloads it
    shipped = shipped_base_for(setup.irpo.base, setup.judge.world)
    if shipped is not None:
        log.info("pi_0: the shipped base %s (its build record: %s)", shipped, shipped / "build.json")
        return shipped
    from irpo.base.build import build_base

    out = setup.run_dir / "base"
    build_base(setup.judge, str(out), setup.irpo.base, setup.rollout, setup.layout)
    return out.resolve()


def run_training(setup: TrainingSetup, after_loop: AfterLoop | None = None) -> dict:
    started, run_dir = time.time(), setup.run_dir.resolve()
    setup = replace(setup, run_dir=run_dir)
    previous = RunStore(run_dir).report()
    world = get_world(setup.judge.world, setup.judge.world_seed)
    init_ray(setup.layout.address, setup.layout.num_cpus, setup.layout.runtime_env.env_vars)
    link_ray_logs(run_dir)
    progress = Progress(stage_plan(setup.irpo) + list(after_loop.stages if after_loop else ()))
    building = (setup.rollout.policy is None and not ships(setup.irpo.base, setup.judge.world)
                and not (run_dir / "base" / "base_report.json").is_file())
    progress.announce("base policy build (~5 min on 2 CPU cores), then " if building else "")
    base_started = time.time()
    base = ensure_base_policy(setup)
    base_seconds = time.time() - base_started
    inputs = StageInputs(setup.irpo, setup.rollout, setup.judge, setup.auction, setup.layout.roles,
                         simulated_user(world, setup.judge), resolve_style(setup.rollout.prompt_style, world.name),
                         run_dir / "ray_results")
    store = RunStore(run_dir, progress)
    tracker = run_tracker(setup, store, progress.stages)
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


def run_tracker(setup: TrainingSetup, store: RunStore, stages: list[str]) -> Tracker:
    """The run's W&B tracker; a resume with nothing left to do opens no new W&B directory."""
    wandb = setup.cluster.wandb
    if all(store.done(stage) for stage in stages):
        wandb = wandb.model_copy(update={"mode": "disabled"})
    return Tracker(wandb, setup.run_dir, setup.run_config, name=setup.run_dir.name)


def link_ray_logs(run_dir: Path) -> None:
    """RUN_DIR/logs/ray: this session's Ray logs (workers, vLLM, DeepSpeed), which the terminal leaves out."""
    source, link = session_log_dir(), run_dir / "logs" / "ray"
    if source is None:
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir() and not link.is_symlink():  # a copied run directory holds the copied logs: keep them
        log.info("%s is a directory, not a link (a copied run?): this session's Ray logs stay in %s", link, source)
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(source, target_is_directory=True)
