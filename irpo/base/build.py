"""The policies IRPO starts from (`llm-auction base build` and `base import-smollm2`)."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from cluster.layout import RayLayout
from cluster.ray_session import init_ray
from irpo.base.checks import auction_checks, comparison_accuracy
from irpo.base.shipped import write_build_record
from irpo.config import BasePolicyConfig
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from judge.simulated_user import SimulatedUser
from rollout.config import RolloutConfig
from rollout.factory import make_engine

log = logging.getLogger(__name__)


def build_base(judge: JudgeConfig, out: str, base: BasePolicyConfig, rollout: RolloutConfig,
                       layout: RayLayout, check_requests: int = 300, force: bool = False) -> dict:
    """Train the tiny base policy into `out`, then check it and write `out/base_report.json`.

    A finished build (its report present) is reused unless `force`: training takes minutes.
    """
    from irpo.base.policy import build_tiny_base

    report_path = Path(out) / "base_report.json"
    if report_path.is_file() and not force:
        log.info("base policy already built at %s (pass --force to rebuild)", out)
        return json.loads(report_path.read_text())
    if judge.world != "tiny":
        raise ValueError(f"base build: only the tiny world has a from-scratch base policy, got {judge.world!r} "
                         "(for free-text worlds use `base import-smollm2` or any HF instruct model)")
    world = get_world(judge.world, judge.world_seed)
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    start = time.perf_counter()
    model_dir = build_tiny_base(world, out, base, layout.roles.base_trainer)
    seconds = time.perf_counter() - start
    report = check_base(model_dir, simulated_user(world, judge), rollout, check_requests)
    checks = {**report["auction"], "number_comparison_accuracy": report["number_comparison"]["accuracy"]}
    write_build_record(Path(model_dir), base, build_command(), seconds, checks)
    return report


def build_command() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def check_base(model_dir: str | Path, user: SimulatedUser, rollout: RolloutConfig, check_requests: int = 300) -> dict:
    """Sampled answers on held-out requests, masked as in training (and unmasked), and held-out number
    comparisons, into `model_dir/base_report.json`."""
    start = time.perf_counter()
    engine = make_engine(model_dir, rollout)
    report = {
        "model_dir": str(model_dir),
        "sampling": rollout.sampling.model_dump(),
        "auction": auction_checks(engine, user, check_requests, rollout.sampling,
                                  mask_absent_ads=rollout.mask_absent_ads),
        "auction_unmasked": auction_checks(engine, user, check_requests, rollout.sampling, mask_absent_ads=False),
        "number_comparison": comparison_accuracy(engine, 400),
    }
    engine.close()
    (Path(model_dir) / "base_report.json").write_text(json.dumps(report, indent=2) + "\n")
    checks = report["auction"]
    log.info("base checks in %.1fs: inserted ads related to the query or user %.0f%% (chance %.0f%%), %.2f ads per "
             "answer, format errors %.1f%%, allocation efficiency %.3f (bid-blind optimum %.3f), inserted-bid "
             "percentile %.3f, number comparisons %.0f%%", time.perf_counter() - start,
             100 * checks["inserted_related_share"], 100 * checks["candidates_related_share"], checks["ads_per_answer"],
             100 * checks["format_error_rate"], checks["allocation_efficiency"], checks["bid_blind_efficiency"],
             checks["inserted_bid_percentile"], 100 * report["number_comparison"]["accuracy"])
    return report


def import_smollm2_policy(out: str) -> dict:
    from rollout.smollm2 import import_smollm2

    return {"model_dir": str(import_smollm2(out))}
