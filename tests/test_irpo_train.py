"""`llm-auction train` end to end on configs/micro.yaml: checkpoint, report, kill and resume."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CLI, MICRO, ROOT

METRICS = {"revenue_per_query", "reward_per_query", "ctr", "ads_per_answer", "format_error_rate",
           "allocation_efficiency", "monotonicity_spearman", "monotone_share"}


def train_args(run_dir, base):
    return [CLI, "train", "--config", MICRO, "--run-dir", str(run_dir), f"rollout.policy={base}"]


def start(args):
    # A session of its own, so killing its process group takes the local Ray instance down with it.
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_when(process, ready, timeout=900):
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, f"run ended before the kill point: {process.stderr.read()[-3000:]}"
        assert time.time() < deadline, "kill point never reached"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def resume(run_dir):
    result = subprocess.run([CLI, "train", "--resume", str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "report.json").read_text())


def stage_records(run_dir):
    return {str(p.parent.relative_to(run_dir)): p.read_text() for p in run_dir.glob("*/*/stage.json")}


def wandb_ids(run_dir):
    return {p.name.rsplit("-", 1)[-1] for p in (run_dir / "wandb").glob("offline-run-*")}


def test_run_killed_at_a_stage_boundary_resumes_to_a_checkpoint_and_a_report(tmp_path, micro_base):
    run_dir = tmp_path / "run"
    process = start(train_args(run_dir, micro_base))
    kill_when(process, lambda: (run_dir / "epoch_1" / "samples" / "stage.json").is_file())
    before = stage_records(run_dir)
    assert set(before) == {"epoch_1/samples"}
    report = resume(run_dir)
    after = stage_records(run_dir)
    assert after["epoch_1/samples"] == before["epoch_1/samples"]  # not run again: same record, same timing
    assert {"epoch_1/reward_model", "epoch_1/pairs", "epoch_1/policy", "final/samples", "final/policy"} <= set(after)
    assert METRICS <= set(report["final"]["base"]) and METRICS <= set(report["final"]["llm_auction"])
    assert 0 < report["final"]["bid_blind_efficiency"] < 1
    epoch = report["epochs"][0]
    assert set(epoch["stage_seconds"]) == {"samples", "reward_model", "pairs", "policy"}
    assert epoch["dpo"]["pairs"] > 0 and epoch["dpo"]["first_loss"] == pytest.approx(0.6931, abs=1e-3)
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(run_dir / "final" / "policy") is not None
    assert len(wandb_ids(run_dir)) == 1 and len(list((run_dir / "wandb").glob("offline-run-*"))) == 2


def test_run_killed_mid_stage_discards_the_partial_stage_and_completes_on_resume(tmp_path, micro_base):
    run_dir = tmp_path / "run"
    process = start(train_args(run_dir, micro_base))
    kill_when(process, lambda: (run_dir / "epoch_1" / ".pairs.partial").is_dir())
    assert not (run_dir / "epoch_1" / "pairs").exists()
    before = stage_records(run_dir)
    report = resume(run_dir)
    after = stage_records(run_dir)
    assert all(after[stage] == record for stage, record in before.items())
    assert not list(run_dir.glob("*/.*.partial"))
    assert report["epochs"][0]["pairs"]["pairs"] == report["epochs"][0]["dpo"]["pairs"]
    assert len(wandb_ids(run_dir)) == 1


def test_train_refuses_a_run_dir_holding_another_config(tmp_path, micro_base):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("irpo:\n  epochs: 7\n")
    result = subprocess.run(train_args(run_dir, micro_base), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "holds a run with another config (differs at" in result.stderr and "irpo.epochs" in result.stderr
