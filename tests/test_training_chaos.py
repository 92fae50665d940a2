"""Chaos for training: the micro run SIGKILLed after a stage, in the middle of one and at random points of
its stage plan, resumed after each kill (the `resumed_run` fixture). That it ends where the same run never
killed ends is checked against the Ray-job run (tests/test_cluster_submit.py): one micro run fewer."""
from micro_runs import stage_records, wandb_ids


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
