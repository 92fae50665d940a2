"""report.md of a mechanism comparison: a glossary, the table with 95% intervals, paired differences,
a verdict computed from the numbers, and the bid-response summaries."""
from __future__ import annotations

GLOSSARY = (
    ("revenue_per_query", "the platform's expected charges per request, in bid units", "higher is better for the "
     "platform"),
    ("reward_per_query", "R = sum b_i p_i - lambda s_resp with the judge's clicks: the platform's objective",
     "higher is better"),
    ("allocation_efficiency", "summed R over the requests / the optimum's", "higher is better; 1 is the optimum"),
    ("ctr", "expected clicks per shown ad", "higher is better"),
    ("ads_per_answer", "ads shown per answer", "neither; context"),
    ("format_error_rate", "answers with a malformed mention", "lower is better"),
    ("reward_per_query_pctr", "R with the pCTR reward model's clicks instead of the judge's", "higher is better"),
)
TABLE = ("revenue_per_query", "reward_per_query", "allocation_efficiency", "ctr", "ads_per_answer",
         "format_error_rate", "reward_per_query_pctr")
PAIRED = ("revenue_per_query", "reward_per_query", "allocation_efficiency")


def _cell(metrics: dict, key: str) -> str:
    value, interval = metrics.get(key), (metrics.get("ci95") or {}).get(key)
    if value is None:
        return "-"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else f"{value:.3f}"


def _difference(entry: dict) -> str:
    if entry["difference"] is None:
        return "-"
    lo, hi = entry["ci95"]
    verdict = "higher" if lo > 0 else "lower" if hi < 0 else "no clear difference"
    return f"{entry['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] ({verdict})"


def verdict(report: dict) -> str:
    """One paragraph, led by the bid response (does the allocation follow bids?), then where LLM-Auction
    stands against the base, the best baseline and the optimum."""
    mechanisms, paired = report["mechanisms"], report.get("paired") or {}
    ours = mechanisms.get("llm_auction")
    if not ours:
        return "The trained policy was not evaluated, so there is no verdict."
    curves = report["curves"]["monotonicity"]
    parts = [bid_response_sentence(curves["llm_auction"], curves.get("base"))] if curves.get("llm_auction") else []
    parts.append(f"LLM-Auction earns {ours['revenue_per_query']:.2f} per query with reward "
                 f"{ours['reward_per_query']:.2f}.")
    if "base" in paired:
        parts.append(f"Against the base policy its revenue is {_difference(paired['base']['revenue_per_query'])} "
                     f"and its reward {_difference(paired['base']['reward_per_query'])}.")
    rivals = [n for n in ("mosaic", "segment", "prominence") if n in mechanisms]
    if rivals:
        best = max(rivals, key=lambda n: mechanisms[n]["reward_per_query"])
        parts.append(f"The best baseline by reward is {best} ({mechanisms[best]['reward_per_query']:.2f}); "
                     f"LLM-Auction minus {best}: {_difference(paired[best]['reward_per_query'])}.")
    if ours.get("allocation_efficiency") is not None and "bid_blind_optimum" in mechanisms:
        parts.append(f"It reaches {ours['allocation_efficiency']:.0%} of the optimum's reward; an allocation that "
                     f"ignores bids but knows relevance reaches "
                     f"{mechanisms['bid_blind_optimum']['allocation_efficiency']:.0%}.")
    return " ".join(parts)


def bid_response_sentence(ours: dict, base: dict | None) -> str:
    """The bid slope of the trained policy (and the base's) in standard errors from zero."""
    def slope(curve: dict) -> str:
        value, stderr = curve["bid_slope"], curve.get("bid_slope_stderr")
        if not stderr:
            return f"{value:+.3f}"
        return f"{value:+.3f} +- {stderr:.3f} clicks per 100 bid units ({value / stderr:+.1f} standard errors)"

    text = f"Bid response: the probed ad's clicks rise with its bid at {slope(ours)}"
    if base:
        text += f"; the base policy's slope is {slope(base)}"
    return text + f". (The Spearman of the mean curve, {ours['spearman']:.2f}, ranks a flat curve at random.)"


def comparison_markdown(report: dict, plots: list[str]) -> str:
    mechanisms = report["mechanisms"]
    lines = [f"# Mechanism comparison: {report['requests']} test requests, {report['world']} world, "
             f"{report['judge']} judge", "",
             f"Each sampled mechanism draws {report['answers_per_request']} answers per request; every figure is the "
             "mean over requests with its 95% bootstrap interval over requests in brackets.", "",
             "## Verdict", "", verdict(report), "", "## Metrics", ""]
    lines += [f"- `{key}`: {meaning} ({direction})" for key, meaning, direction in GLOSSARY]
    lines += ["", "| mechanism | " + " | ".join(TABLE) + " | generations / request |",
              "|---|" + "---|" * (len(TABLE) + 1)]
    for name, metrics in mechanisms.items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics, k) for k in TABLE)
                     + f" | {metrics['generations_per_request']:g} |")
    if report.get("paired"):
        lines += ["", "## LLM-Auction minus each mechanism (same requests and bids, paired intervals)", "",
                  "| mechanism | " + " | ".join(PAIRED) + " |", "|---|" + "---|" * len(PAIRED)]
        for name, entry in report["paired"].items():
            lines.append(f"| {name} | " + " | ".join(_difference(entry[k]) for k in PAIRED) + " |")
    lines += ["", "## Mechanisms", ""]
    lines += [f"- `{name}`: {metrics['description']}; {metrics['generations_per_request']:g} generation(s) per "
              "request" for name, metrics in mechanisms.items()]
    lines += _curve_lines(report)
    lines += ["", *[f"![{p}]({p})" for p in plots], ""]
    return "\n".join(lines)


def _curve_lines(report: dict) -> list[str]:
    lines = ["", "## Bid response", ""]
    for name, curve in report["curves"]["monotonicity"].items():
        lines.append(f"- Comparison probe, {name} ({curve['requests']} requests x {curve['answers_per_bid']} answers "
                     f"per bid): bid slope {curve['bid_slope']:+.4f}"
                     + (f" +- {curve['bid_slope_stderr']:.4f}" if curve.get("bid_slope_stderr") else "")
                     + f" clicks per 100 bid units, Spearman {curve['spearman']:.3f}, monotone share "
                     f"{curve['monotone_share']:.3f}. "
                     "The training report's per-epoch probe draws its own answers, so its figure differs by noise.")
    for name, curve in report["curves"]["continuity"].items():
        lines.append(f"- Continuity, {name} (request {curve['request_id']}, ad {curve['ad_id']}, "
                     f"{curve['answers_per_bid']} answers per bid): largest jump between adjacent bids "
                     f"{curve['largest_jump']:.3f}")
    audit = report.get("audit")
    if audit:
        lines.append(f"- Incentive audit ({audit['advertisers']} advertisers, first price): mean regret of bidding "
                     f"the value {audit['mean_regret']:.3f}, worst {audit['worst_regret']:.3f}; value maximisers "
                     f"(ROI target {audit['roi_target']}) for whom bidding value/target is best: "
                     f"{audit['roi_truthful_share']:.2f}")
    return lines
