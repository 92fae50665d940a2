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
