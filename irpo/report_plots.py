"""PNG plots of an evaluation report: mechanism bars, monotonicity curves, continuity curves."""
from __future__ import annotations

from pathlib import Path

BAR_METRICS = (("revenue_per_query", "revenue / query"), ("reward_per_query", "reward / query"),
               ("allocation_efficiency", "allocation efficiency"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def mechanism_bars(report: dict, out: Path) -> Path:
    plt = _pyplot()
    names = list(report["mechanisms"])
    fig, axes = plt.subplots(1, len(BAR_METRICS), figsize=(5 * len(BAR_METRICS), 4.2))
    for ax, (key, label) in zip(axes, BAR_METRICS):
        values = [report["mechanisms"][n][key] or 0.0 for n in names]
        colors = ["tab:red" if n == "llm_auction" else "tab:gray" if "optimum" in n else "tab:blue" for n in names]
        ax.bar(names, values, color=colors)
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=45)
        ax.axhline(0, color="black", linewidth=0.6)
    fig.suptitle(f"Mechanisms on {report['requests']} test requests ({report['world']} world)")
    fig.tight_layout()
    path = out / "mechanisms.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves(report: dict, kind: str, out: Path) -> Path | None:
    plt = _pyplot()
    series = report["curves"].get(kind) or {}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, curve in series.items():
        label = name + (f" (Spearman {curve['spearman']:.2f})" if "spearman" in curve else "")
        ax.plot(curve["bids"], curve["clicks"], marker="o" if kind == "monotonicity" else None, label=label)
    ax.set_xlabel("bid of the probed ad")
    ax.set_ylabel("expected clicks of the probed ad")
    ax.set_title(f"{kind} curve")
    ax.legend()
    fig.tight_layout()
    path = out / f"{kind}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def epoch_bid_curves(curves: dict[str, list], out: Path) -> Path:
    """The probe's bid-response curve (mean expected clicks +- one standard error) of each policy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, curve in curves.items():
        bids, clicks, errors = zip(*[(p[0], p[1], p[2] if len(p) > 2 else 0.0) for p in curve])
        ax.errorbar(bids, clicks, yerr=errors, marker="o", capsize=2, label=name)
    ax.set_xlabel("bid of the probed ad")
    ax.set_ylabel("expected clicks of the probed ad")
    ax.set_title("bid response of the base and of each epoch's policy")
    ax.legend()
    fig.tight_layout()
    path = out / "bid_response_by_epoch.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
