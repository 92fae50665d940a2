"""What a finished `train` says about itself: the time of every invocation, and a closing summary."""
from __future__ import annotations

import time
from pathlib import Path

from irpo.loop.run_store import REPORT_FILE


def record_invocation(report: dict, previous: dict, started: float, base_seconds: float) -> None:
    """Adds this invocation (whole command, base build, IRPO loop) to the earlier ones a resumed run
    kept: `command_wall_seconds` and `wall_seconds` (the IRPO loop) are sums, so a resume adds to them."""
    this = {"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "seconds": round(time.time() - started, 1), "base_build_seconds": round(base_seconds, 1),
            "irpo_loop_seconds": report["wall_seconds"]}
    invocations = [*previous.get("invocations", []), this]
    report["invocations"] = invocations
    report["command_wall_seconds"] = round(sum(i["seconds"] for i in invocations), 1)
    report["wall_seconds"] = round(sum(i["irpo_loop_seconds"] for i in invocations), 1)


def _change(base: dict, final: dict, key: str, digits: int = 3) -> str:
    before, after = base.get(key), final.get(key)
    if before is None or after is None:
        return "-"
    return f"{before:.{digits}f} -> {after:.{digits}f}"


def idle_phases(report: dict) -> list[str]:
    """Epochs whose reward phase had no click to fit or whose policy phase had no pair to train on: the
    run still finishes, but such an epoch taught the policy nothing, and the user must hear of it."""
    warnings = []
    for epoch in report.get("epochs", []):
        reward_model, dpo = epoch.get("reward_model") or {}, epoch.get("dpo") or {}
        if reward_model.get("click_rows") == 0:
            warnings.append(f"epoch {epoch['epoch']}: the reward phase had no click rows (no valid ad inserted): no "
                            "reward model was fitted")
        if dpo.get("skipped"):
            warnings.append(f"epoch {epoch['epoch']}: the policy phase did not train ({dpo['skipped']}): the policy "
                            "is unchanged")
    return warnings


def closing_summary(report: dict, run_dir: Path) -> str:
    """The lines a user reads when `train` ends: where the results are and what they say."""
    base, final = report["final"]["base"], report["final"]["llm_auction"]
    slope = final.get("bid_slope")
    lines = [
        f"run finished: {run_dir}",
        f"  held-out test, base -> trained policy: allocation efficiency {_change(base, final, 'allocation_efficiency')}"
        f" (bid-blind optimum {report['final']['bid_blind_efficiency']:.3f}), revenue/query "
        f"{_change(base, final, 'revenue_per_query', 2)}, reward/query {_change(base, final, 'reward_per_query', 2)}",
        "  bid response of the trained policy: slope "
        + (f"{slope:.3f} +- {final.get('bid_slope_stderr') or 0:.3f} clicks per 100 bid units" if slope is not None
           else "-"),
        f"  report: {report.get('mechanism_comparison') or run_dir / REPORT_FILE} (numbers: {run_dir / REPORT_FILE})",
        f"  time: {report['command_wall_seconds'] / 60:.1f} min in all, IRPO loop {report['wall_seconds'] / 60:.1f} min "
        f"(every stage: report.json stage_seconds)",
        f"  logs: {run_dir / 'logs'}",
    ]
    lines += [f"  WARNING: {warning}" for warning in idle_phases(report)]
    offline = sorted((run_dir / "wandb").glob("offline-run-*"))  # named by start time: the last is the latest
    if offline:
        lines.append(f"  W&B (offline): wandb sync {offline[-1]}  (the latest directory holds the whole run)")
    return "\n".join(lines)
