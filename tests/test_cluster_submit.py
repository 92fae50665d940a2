"""`llm-auction submit` against a real Ray head on 127.0.0.1: the micro training run as a Ray job, which is
also the run never killed that the chaos test compares the killed and resumed run with."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import CLI, ROOT, free_port
from micro_runs import assert_same_record, read_record, stage_records, train_args

VENV_BIN = str(Path(sys.executable).parent)
# The head enforces Ray's token auth (2.60's default for local clusters); clients present the same token.
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "test-token-" + os.urandom(8).hex()}


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """`ray start --head --block` in a process group of its own, so stopping it leaves other Rays alone."""
    gcs, dashboard = free_port(), free_port()
    env = {**os.environ, **AUTH, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen(
        [f"{VENV_BIN}/ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--include-dashboard=true", "--num-cpus=2",
         # Fixed default ports (agent 52365, ...) are taken when another Ray runs here, as in this suite.
         f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
         f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
         f"--temp-dir={tmp_path_factory.mktemp('ray')}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{dashboard}"
    try:
        wait_for_job_api(url, head)
        yield url
    finally:  # also when the head never came up: nothing may outlive the test
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


def wait_for_job_api(url: str, head: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/version", timeout=2)
            return
        except urllib.error.HTTPError:  # 401 without the token: the server is up
            return
        except OSError:
            assert head.poll() is None, head.stderr.read()[-3000:]
            assert time.time() < deadline, "the Ray head's job API never came up"
            time.sleep(1)


def test_the_micro_run_as_a_ray_job_ends_where_the_run_killed_at_random_points_and_resumed_ends(
        ray_head, resumed_run, micro_base, tmp_path):
    """The whole micro run submitted to a real Ray head (rollouts on vLLM, pCTR and DPO under Ray Train and
    DeepSpeed, all on the job's cluster; its logs streamed back, its exit status returned) is also the chaos
    test's run never killed: the micro run SIGKILLed after a stage, in the middle of one and at random points
    of its plan, resumed after each kill (`resumed_run`), ends with the same stage records and report (only
    wall-clock figures and the run's own directory differ; floats to 1e-6, `assert_same_record`)."""
    calm = tmp_path / "calm"
    result = subprocess.run([CLI, "submit", "--address", ray_head, "--", *train_args(calm, micro_base)[1:]],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800, env={**os.environ, **AUTH})
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert "epoch_1/policy: done" in result.stdout and "final/policy: done" in result.stdout  # logs streamed back
    jobs = json.loads(subprocess.run([CLI, "jobs", "list", "--address", ray_head], capture_output=True, text=True,
                                     cwd=ROOT, timeout=60, env={**os.environ, **AUTH}).stdout)
    assert [job["status"] for job in jobs] == ["SUCCEEDED"]

    killed, points = resumed_run.run_dir, [(k.stage, k.moment) for k in resumed_run.kills]
    stages = sorted(stage_records(calm))
    assert sorted(stage_records(killed)) == stages and "epoch_1/policy" in stages
    for stage in stages:
        assert_same_record(read_record(killed, f"{stage}/stage.json"), read_record(calm, f"{stage}/stage.json"),
                           f"{stage} after kills at {points}")
    reports = [read_record(run, "report.json") for run in (killed, calm)]
    for key in ("epochs", "final"):
        assert_same_record(reports[0][key], reports[1][key], f"report.json {key} after kills at {points}")
    assert reports[1]["epochs"][0]["dpo"]["prompts"] > 0


def test_submit_of_a_failing_command_returns_non_zero(ray_head):
    result = subprocess.run([CLI, "submit", "--address", ray_head, "--", "config", "show", "irpo.dpo.beta=-1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **AUTH})
    assert result.returncode == 1
    assert "irpo.dpo.beta: must be > 0, got -1" in result.stdout
