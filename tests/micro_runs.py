"""Micro training runs for the tests: start `llm-auction train` on configs/micro.yaml, kill it when a stage
is reached, resume it, and read its records back."""
from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import CLI, MICRO, ROOT

TIMING_KEYS = ("seconds", "tokens_per_second")  # wall-clock figures: the only fields allowed to differ


def train_args(run_dir, base):
    return [CLI, "train", "--config", MICRO, "--run-dir", str(run_dir), f"rollout.policy={base}"]


def start(args, cwd=ROOT):
    # A session of its own, so killing its process group takes the local Ray instance down with it.
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_when(process, ready, timeout=900):
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, f"run ended before the kill point: {process.stderr.read()[-3000:]}"
        assert time.time() < deadline, "kill point never reached"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def reached(run_dir: Path, stage: str, moment: str):
    """`inside`: the stage has started (its partial directory exists; or it already finished, so a short stage
    cannot be missed); `after`: it has finished. `inside-only`: the partial directory exists."""
    final = run_dir / stage
    partial = final.with_name(f".{final.name}.partial")
    if moment == "inside-only":
        return partial.is_dir
    if moment == "inside":
        return lambda: partial.is_dir() or (final / "stage.json").is_file()
    return lambda: (final / "stage.json").is_file()


def kill_points(plan: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """`count` distinct (stage, moment) pairs in plan order, drawn with `seed`; moment is inside or after."""
    moments = [(stage, moment) for stage in plan for moment in ("inside", "after")]
    return sorted(random.Random(seed).sample(moments, count), key=moments.index)


def stage_records(run_dir) -> dict[str, str]:
    return {str(p.parent.relative_to(run_dir)): p.read_text() for p in run_dir.glob("*/*/stage.json")}


def wandb_ids(run_dir) -> set[str]:
    return {p.name.rsplit("-", 1)[-1] for p in (run_dir / "wandb").glob("offline-run-*")}


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not any(t in k for t in TIMING_KEYS)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def assert_same_record(one, other, where: str = "") -> None:
    """Equal structure and values, floats to 1e-6 relative: a run as a Ray job scores the pCTR texts with its
    encoder under another thread count, so sums come out 1e-9 apart, where a resume bug moves whole figures."""
    if isinstance(one, dict) and isinstance(other, dict):
        assert one.keys() == other.keys(), (where, sorted(set(one) ^ set(other)))
        for key in one:
            assert_same_record(one[key], other[key], f"{where}/{key}")
    elif isinstance(one, list) and isinstance(other, list):
        assert len(one) == len(other), where
        for i, (a, b) in enumerate(zip(one, other)):
            assert_same_record(a, b, f"{where}[{i}]")
    elif isinstance(one, float) and isinstance(other, float):
        assert math.isclose(one, other, rel_tol=1e-6, abs_tol=1e-9), (where, one, other)
    else:
        assert one == other, (where, one, other)


def read_record(run_dir, name: str):
    """A JSON record of the run with timings dropped and the run's own directory written as RUN_DIR."""
    return without_timings(json.loads((run_dir / name).read_text().replace(str(run_dir), "RUN_DIR")))


@dataclass
class Kill:
    stage: str
    moment: str
    records: dict[str, str]  # the stage records on disk right after the kill
    finished: bool  # whether the stage had finished when the process died


@dataclass
class KilledRun:
    run_dir: Path
    kills: list[Kill] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def run_with_kills(run_dir: Path, base: Path, points: list[tuple[str, str]]) -> KilledRun:
    """A micro run started from outside the project (its config named relative to the project), killed at
    each of `points` in turn and resumed after each, to the end."""
    killed = KilledRun(run_dir)
    process = start([CLI, "train", "--config", "configs/micro.yaml", "--run-dir", str(run_dir),
                     f"rollout.policy={base}"], cwd=run_dir.parent)
    for stage, moment in points:
        kill_when(process, reached(run_dir, stage, moment))
        killed.kills.append(Kill(stage, moment, stage_records(run_dir), (run_dir / stage / "stage.json").is_file()))
        process = start([CLI, "train", "--resume", str(run_dir)])
    assert process.wait(timeout=1800) == 0, process.stderr.read()[-3000:]
    killed.report = json.loads((run_dir / "report.json").read_text())
    return killed
