"""PNG plots of an evaluation report: mechanism bars, monotonicity curves, continuity curves."""
from __future__ import annotations

from pathlib import Path

BAR_METRICS = (("revenue_per_query", "revenue / query (bid units)"), ("reward_per_query", "reward R / query (bid units)"),
               ("allocation_efficiency", "allocation efficiency (share of the optimum)"))
GROUPS = (("LLM-Auction (trained policy)", "tab:red", ("llm_auction",)), ("base policy", "tab:orange", ("base",)),
          ("baseline mechanisms", "tab:blue", ("mosaic", "segment", "prominence")),
          ("upper bounds (exact)", "tab:gray", ("optimum", "bid_blind_optimum")))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _colour(name: str) -> str:
    return next((colour for _, colour, members in GROUPS if name in members), "tab:blue")


def _bars(ax, report: dict, names: list[str], key: str) -> None:
    metrics = report["mechanisms"]
    values = [metrics[n][key] or 0.0 for n in names]
    intervals = [(metrics[n].get("ci95") or {}).get(key) for n in names]
    errors = [[v - i[0] if i else 0.0 for v, i in zip(values, intervals)],
              [i[1] - v if i else 0.0 for v, i in zip(values, intervals)]]
    ax.bar(names, values, color=[_colour(n) for n in names], yerr=errors, capsize=3)
    ax.tick_params(axis="x", rotation=45)
    ax.axhline(0, color="black", linewidth=0.6)


def mechanism_bars(report: dict, out: Path) -> Path:
    """Top row: every mechanism; bottom row: without the upper bounds, so real mechanisms' gaps show.
    Error bars: 95% bootstrap intervals over requests."""
    plt = _pyplot()
    names = list(report["mechanisms"])
    real = [n for n in names if "optimum" not in n] or names
    fig, axes = plt.subplots(2, len(BAR_METRICS), figsize=(5 * len(BAR_METRICS), 8), squeeze=False)
    for column, (key, label) in enumerate(BAR_METRICS):
        for row, shown in enumerate((names, real)):
            _bars(axes[row][column], report, shown, key)
            axes[row][column].set_title(label + ("" if row == 0 else ", real mechanisms only"), fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for _, colour, _ in GROUPS]
    fig.legend(handles, [label for label, _, _ in GROUPS], loc="lower center", ncol=len(GROUPS))
    fig.suptitle(f"Mechanisms on {report['requests']} test requests ({report['world']} world), "
                 f"{report.get('answers_per_request', 1)} answers per request; bars: 95% intervals")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, plt, out / "mechanisms.png")


def curves(report: dict, kind: str, out: Path) -> Path | None:
    plt = _pyplot()
    series = report["curves"].get(kind) or {}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, curve in series.items():
        label = name + (f" (Spearman {curve['spearman']:.2f})" if "spearman" in curve else "")
        ax.errorbar(curve["bids"], curve["clicks"], yerr=curve.get("stderr"), capsize=2, label=label,
                    marker="o" if kind == "monotonicity" else None, color=_colour(name))
    first = next(iter(series.values()))
    ax.set_xlabel("bid of the probed ad (per click)")
    ax.set_ylabel("expected clicks of the probed ad")
    if kind == "monotonicity":
        ax.set_title(f"Bid response: {first['requests']} requests x {first['answers_per_bid']} answers per bid "
                     "(+- 1 s.e.)\na bid-responsive policy's curve rises with the bid", fontsize=9)
    else:
        ax.set_title(f"Continuity: request {first['request_id']}, ad {first['ad_id']} ({first['ad_title']}),\n"
                     f"{first['answers_per_bid']} answers per bid; a small bid change should move the clicks little",
                     fontsize=9)
    ax.legend()
    fig.tight_layout()
    return _save(fig, plt, out / f"{kind}.png")


def _save(fig, plt, path: Path) -> Path:
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
    return _save(fig, plt, out / "bid_response_by_epoch.png")
