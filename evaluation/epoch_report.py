"""The training run's own section of report.md: the bid response of the base and of every epoch's policy."""
from __future__ import annotations

from pathlib import Path

from evaluation.plots import epoch_bid_curves
from irpo.loop.run_summary import idle_phases


def bid_response_report(report: dict, out: Path) -> None:
    """Per-epoch bid response (the probe) as a plot and a table, and what each epoch's phases did,
    appended to report.md in `out`."""
    policies = {"base": report["final"]["base"] | {"probe_curve": report["final"]["probe_curve"]["base"]}}
    policies |= {f"epoch {e['epoch']}": e["metrics"] for e in report["epochs"]}
    plot = epoch_bid_curves({name: m["probe_curve"] for name, m in policies.items() if m.get("probe_curve")}, out)
    lines = ["", "## Bid response by epoch (monotonicity probe, exact expected clicks)", "",
             "| policy | bid slope (clicks per 100 bid units) | Spearman of the mean curve | efficiency | "
             "ads per answer | answers with 2+ ads | related share of inserted ads | inserted-bid percentile |",
             "|---|---|---|---|---|---|---|---|"]
    for name, m in policies.items():
        lines.append(f"| {name} | {_pm(m.get('bid_slope'), m.get('bid_slope_stderr'), 4)} | "
                     f"{_pm(m.get('monotonicity_spearman'), m.get('monotonicity_spearman_stderr'))} | "
                     f"{_pm(m.get('allocation_efficiency'))} | {_pm(m.get('ads_per_answer'), digits=2)} | "
                     f"{_pm(m.get('two_ad_share'))} | {_pm(m.get('related_share'))} | "
                     f"{_pm(m.get('inserted_bid_percentile'))} |")
    lines += ["", f"![bid response by epoch]({plot.name})", "", *phase_table(report["epochs"]),
              *pairs_table(report["epochs"])]
    lines += [f"**Warning: {warning}.**" for warning in idle_phases(report)]
    markdown = out / "report.md"
    kept = markdown.read_text().split(lines[1])[0].rstrip("\n") + "\n" if markdown.is_file() else ""
    markdown.write_text(kept + "\n".join(lines))  # replaces the section a resumed run wrote before


def phase_table(epochs: list[dict]) -> list[str]:
    """Each epoch's reward and policy phase: the refit's held-out AUC, R's agreement with the exact R on
    the policy's own answers, the pairs, and where DPO moved the winners and losers (implicit rewards
    beta log pi/pi_ref, last quarter of the phase) and how far from pi_ref (KL estimate)."""
    lines = ["## What each epoch's phases did", "",
             "| epoch | pCTR held-out AUC | R vs exact R (Spearman) | prompts | pairs | DPO steps | winners' implicit "
             "reward | losers' | margin | winners' NLL per token | KL(pi_ref \\|\\| pi) estimate |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for epoch in epochs:
        rm, pairs, dpo = epoch.get("reward_model") or {}, epoch.get("pairs") or {}, epoch.get("dpo") or {}
        last = dpo.get("last_quarter") or {}
        auc = _pm(rm.get("holdout_auc")) + (" (degenerate)" if rm.get("degenerate") else "")
        lines.append(f"| {epoch['epoch']} | {auc} | {_pm(pairs.get('reward_vs_exact_spearman'))} | "
                     f"{pairs.get('prompts', '-')} | {pairs.get('pairs', '-')} | {dpo.get('optimizer_steps', '-')} | "
                     f"{_pm(last.get('chosen_reward'))} | {_pm(last.get('rejected_reward'))} | "
                     f"{_pm(last.get('margin'))} | {_pm(last.get('nll'))} | {_pm(last.get('kl'))} |")
    return lines + [""]


def pairs_table(epochs: list[dict]) -> list[str]:
    """What each epoch's pairs teach about relevance: the click probability R gives related and unrelated
    inserted ads (against the simulated user's exact one) and the related share of winners' and losers' ads.
    An unrelated ad priced near a related one lets a high bid win, and the policy learns to drop relevance."""
    lines = ["## What the pairs teach about relevance", "",
             "| epoch | R's click probability: related ads (exact) | unrelated ads (exact) | related share of "
             "winners' ads | of losers' ads |", "|---|---|---|---|---|"]
    for epoch in epochs:
        pairs = epoch.get("pairs") or {}
        lines.append(f"| {epoch['epoch']} | {_pm(pairs.get('p_related'))} ({_pm(pairs.get('exact_p_related'))}) | "
                     f"{_pm(pairs.get('p_unrelated'))} ({_pm(pairs.get('exact_p_unrelated'))}) | "
                     f"{_pm(pairs.get('winner_related_share'))} | {_pm(pairs.get('loser_related_share'))} |")
    return lines + [""]


def _pm(value, stderr=None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" + (f" +- {stderr:.{digits}f}" if stderr is not None else "")

