"""Chaos for training: a micro run SIGKILLed at random points of its stage plan, resumed after each kill,
ends where the same run never killed ends: the same stage records and report, exactly (only wall-clock
figures and the run's own directory differ)."""
import json
import random
import subprocess

import pytest
from conftest import CLI, MICRO, ROOT
from test_irpo_train import kill_when, start, train_args

from irpo.config import IRPOConfig
from irpo.loop.driver import stage_plan

CHAOS_SEED = 2026
KILLS = 3
TIMING_KEYS = ("seconds", "tokens_per_second")  # wall-clock figures: the only fields allowed to differ


def kill_points(plan: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """`count` distinct (stage, moment) pairs in plan order, drawn with `seed`; moment is inside or after."""
    moments = [(stage, moment) for stage in plan for moment in ("inside", "after")]
    return sorted(random.Random(seed).sample(moments, count), key=moments.index)


def reached(run_dir, stage: str, moment: str):
    """The stage has started (its partial directory exists, or it already finished) or has finished."""
    final = run_dir / stage
    partial = final.with_name(f".{final.name}.partial")
    if moment == "inside":
        return lambda: partial.is_dir() or (final / "stage.json").is_file()
    return lambda: (final / "stage.json").is_file()


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not any(t in k for t in TIMING_KEYS)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def read_record(run_dir, name: str):
    """A JSON record of the run with timings dropped and the run's own directory written as RUN_DIR."""
    return without_timings(json.loads((run_dir / name).read_text().replace(str(run_dir), "RUN_DIR")))


def stage_results(run_dir, stages):
    return {stage: read_record(run_dir, f"{stage}/stage.json") for stage in stages}


@pytest.mark.slow
def test_a_run_killed_at_random_points_and_resumed_ends_as_the_run_never_killed(tmp_path, micro_base):
    import yaml

    irpo = IRPOConfig.model_validate(yaml.safe_load(open(MICRO))["irpo"])
    stages = [*stage_plan(irpo), "final/evaluation"]
    points = kill_points(stages, KILLS, CHAOS_SEED)

    killed = tmp_path / "killed"
    process = start(train_args(killed, micro_base))
    for stage, moment in points:
        kill_when(process, reached(killed, stage, moment))
        process = start([CLI, "train", "--resume", str(killed)])
    assert process.wait(timeout=1800) == 0, process.stderr.read()[-3000:]

    calm = tmp_path / "calm"
    done = subprocess.run(train_args(calm, micro_base), cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]

    assert stage_results(killed, stages) == stage_results(calm, stages), points
    reports = [read_record(run, "report.json") for run in (killed, calm)]
    for key in ("epochs", "final"):
        assert reports[0][key] == reports[1][key], (key, points)
