"""The training run's own section of report.md: the bid response of the base and of every epoch's policy."""
from __future__ import annotations

from pathlib import Path

from evaluation.plots import epoch_bid_curves


def bid_response_report(report: dict, out: Path) -> None:
    """Per-epoch bid response (the probe) as a plot and a table, appended to report.md in `out`."""
    policies = {"base": report["final"]["base"] | {"probe_curve": report["final"]["probe_curve"]["base"]}}
    policies |= {f"epoch {e['epoch']}": e["metrics"] for e in report["epochs"]}
    plot = epoch_bid_curves({name: m["probe_curve"] for name, m in policies.items() if m.get("probe_curve")}, out)
    lines = ["", "## Bid response by epoch (monotonicity probe, exact expected clicks)", "",
             "| policy | Spearman of the mean curve | bid slope (clicks per 100 bid units) | efficiency |",
             "|---|---|---|---|"]
    for name, m in policies.items():
        lines.append(f"| {name} | {_pm(m.get('monotonicity_spearman'), m.get('monotonicity_spearman_stderr'))} | "
                     f"{_pm(m.get('bid_slope'), m.get('bid_slope_stderr'), 4)} | {_pm(m.get('allocation_efficiency'))} |")
    lines += ["", f"![bid response by epoch]({plot.name})", ""]
    markdown = out / "report.md"
    kept = markdown.read_text().split(lines[1])[0].rstrip("\n") + "\n" if markdown.is_file() else ""
    markdown.write_text(kept + "\n".join(lines))  # replaces the section a resumed run wrote before


def _pm(value, stderr=None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" + (f" +- {stderr:.{digits}f}" if stderr is not None else "")

