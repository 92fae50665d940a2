"""Shared helpers for the tests: small requests and a scripted Generator."""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from auction import Ad, AuctionRequest, Candidate, UserProfile
from auction.mechanisms import Generation

# vLLM logs during interpreter exit, after pytest has closed its capture streams; without this every
# such record prints a "Logging error" traceback after the test summary.
logging.raiseExceptions = False

# Property tests check behaviour, not speed: a per-example deadline only fails them when the shared
# machine is busy (speed lives in benchmarks/).
settings.register_profile("no_deadline", deadline=None)
settings.load_profile("no_deadline")

ROOT = Path(__file__).resolve().parents[1]
# Tests using these start Ray, an engine or a training run: the slow tier. `pytest -m "not slow"` runs
# the rest in about a minute; `make test` runs both.
HEAVY_FIXTURES = {"ray_local", "ray_head", "micro_base", "smollm2_dir", "vllm_engine", "server", "policy", "resumed_run"}
CLI = shutil.which("llm-auction", path=str(Path(sys.executable).parent)) or "llm-auction"
MICRO = str(ROOT / "configs" / "micro.yaml")


def pytest_collection_modifyitems(items):
    for item in items:
        if HEAVY_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tests_start_no_ray(request):
    """A test outside the slow tier must not start Ray in this process."""
    def ray_running() -> bool:
        return "ray" in sys.modules and sys.modules["ray"].is_initialized()

    before = ray_running()
    yield
    if "slow" not in request.node.keywords and not before and ray_running():
        pytest.fail("this test starts Ray: mark it slow (or use a fixture of HEAVY_FIXTURES)")


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_request(bids: dict[str, float] | None = None, request_id: str = "r-1") -> AuctionRequest:
    bids = bids or {"Ad-1": 40.0, "Ad-2": 70.0, "Ad-3": 5.0}
    titles = {"Ad-1": "Floral Coffee Cup", "Ad-2": "Trail Running Shoes", "Ad-3": "Organic Green Tea"}
    candidates = tuple(Candidate(Ad(ad_id, titles.get(ad_id, f"Product {ad_id}")), bid) for ad_id, bid in bids.items())
    return AuctionRequest(request_id, UserProfile("u-1", "runner, 30", ("running", "coffee")), "what shoes?", candidates)


class ScriptedGenerator:
    """A Generator that replays fixed texts in turn, recording what it was asked (a protocol test double)."""

    def __init__(self, texts: list[str], logprobs: list[float] | None = None):
        self.texts, self.logprobs, self.calls, self.served = texts, logprobs, [], 0

    def generate(self, requests, n, *, seed=0, shown=None):
        self.calls.append({"requests": list(requests), "n": n, "shown": shown})
        batches = []
        for _ in requests:
            picked = [self.texts[(self.served + k) % len(self.texts)] for k in range(n)]
            self.served += n
            batches.append([Generation(t, logprob=(self.logprobs or [0.0] * 99)[k]) for k, t in enumerate(picked)])
        return batches


@pytest.fixture
def request_3ads() -> AuctionRequest:
    return make_request()


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray instance with 2 CPUs, shared by the tests that need one."""
    from cluster.ray_session import init_ray

    ray = init_ray("local", num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory):
    """SmolLM2-135M-Instruct as an HF directory, converted from the GGUF that `make setup` installs."""
    from rollout.smollm2 import import_smollm2

    return import_smollm2(tmp_path_factory.mktemp("models") / "smollm2")


@pytest.fixture(scope="session")
def micro_base(tmp_path_factory):
    """The micro config's base policy, built once by the CLI (Ray Train + DeepSpeed SFT, then checks)."""
    out = tmp_path_factory.mktemp("micro") / "base"
    result = subprocess.run([CLI, "base", "build", "--config", MICRO, "--out", str(out)], capture_output=True,
                            text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


# The micro run's kill points: right after its first stage, in the middle of its pairs stage, then
# CHAOS_KILLS more drawn with CHAOS_SEED from the stages after (tests/test_training_chaos.py).
FIRST_KILLS = [("epoch_1/samples", "after"), ("epoch_1/pairs", "inside-only")]
CHAOS_SEED, CHAOS_KILLS = 2026, 2


@pytest.fixture(scope="session")
def resumed_run(tmp_path_factory, micro_base):
    """The micro run killed after its first stage, in the middle of its pairs stage and at random points
    after, resumed after each kill to the end: the trained run most slow tests read."""
    import yaml
    from micro_runs import kill_points, run_with_kills

    from irpo.config import IRPOConfig
    from irpo.loop.driver import stage_plan

    plan = [*stage_plan(IRPOConfig.model_validate(yaml.safe_load(open(MICRO))["irpo"])), "final/evaluation"]
    later = plan[plan.index("epoch_1/pairs") + 1:]
    points = FIRST_KILLS + kill_points(later, CHAOS_KILLS, CHAOS_SEED)
    return run_with_kills(tmp_path_factory.mktemp("killed") / "run", micro_base, points)
