"""Chaos for training: the micro run SIGKILLed after a stage, in the middle of one and at random points of
its stage plan, resumed after each kill, ends where the same run never killed ends: the same stage records
and report, exactly (only wall-clock figures and the run's own directory differ)."""
import subprocess

import pytest
from conftest import ROOT
from micro_runs import read_record, stage_records, train_args, wandb_ids


@pytest.mark.slow
def test_a_run_killed_at_random_points_and_resumed_ends_as_the_run_never_killed(resumed_run, micro_base, tmp_path):
    calm = tmp_path / "calm"
    done = subprocess.run(train_args(calm, micro_base), cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]

    killed, points = resumed_run.run_dir, [(k.stage, k.moment) for k in resumed_run.kills]
    stages = sorted(stage_records(calm))
    assert sorted(stage_records(killed)) == stages
    assert {s: read_record(killed, f"{s}/stage.json") for s in stages} == \
        {s: read_record(calm, f"{s}/stage.json") for s in stages}, points
    reports = [read_record(run, "report.json") for run in (killed, calm)]
    for key in ("epochs", "final"):
        assert reports[0][key] == reports[1][key], (key, points)


def test_a_killed_stage_leaves_no_record_and_every_finished_stage_is_kept_across_resumes(resumed_run):
    run_dir, kills = resumed_run.run_dir, resumed_run.kills
    after = stage_records(run_dir)
    mid_stage = next(k for k in kills if k.moment == "inside-only")
    assert not mid_stage.finished and mid_stage.stage not in mid_stage.records  # killed mid-way: no record
    for kill in kills:  # what had finished before any kill is never run again: the same record, same timing
        assert all(after[stage] == record for stage, record in kill.records.items()), kill.stage
    assert not list(run_dir.glob("*/.*.partial"))
    report = resumed_run.report
    assert report["epochs"][0]["pairs"]["prompts"] == report["epochs"][0]["dpo"]["prompts"]
    assert len(wandb_ids(run_dir)) == 1 and len(list((run_dir / "wandb").glob("offline-run-*"))) == len(kills) + 1
