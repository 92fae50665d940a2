"""How a policy's allocation moves with one bid: monotonicity and continuity curves, and the incentive audit.

All three sweep one advertiser's bid with everything else fixed and measure that ad's expected clicks
under the simulated user, averaged over sampled answers; each sweep is one batch of generations.
"""
from __future__ import annotations

from statistics import mean

import numpy as np

from auction.metrics import bid_slope, continuity, monotone_share, monotonicity
from auction.parser import parse_request_answer
from auction.types import AuctionRequest
from judge.simulated_user import SimulatedUser

SHADING = (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.6)  # bids tried, as multiples of the advertiser's value
ROI_TARGET = 1.25  # a value maximiser with this ROI target bids at most value / target


def expected_clicks(generator, user: SimulatedUser, sweeps: list[tuple[AuctionRequest, str, float]], samples: int,
                    seed: int = 0) -> list[float]:
    """For each (request, ad, bid): that ad's expected clicks with its bid set to `bid`, averaged over
    `samples` answers. Every sweep point is generated in one batch."""
    swept = [request.with_bid(ad_id, bid) for request, ad_id, bid in sweeps]
    batches = generator.generate(swept, samples, seed=seed)
    return [mean(user.click_probs(request, parse_request_answer(g.text, request)).get(ad_id, 0.0) for g in answers)
            for request, (_, ad_id, _), answers in zip(swept, sweeps, batches)]


def monotonicity_curve(generator, user, targets: list[tuple[AuctionRequest, str]], grid, samples: int) -> dict:
    """Each target's ad's expected clicks at every bid of `grid`, `samples` answers per point, summarised."""
    flat = expected_clicks(generator, user, [(r, ad, b) for r, ad in targets for b in grid], samples)
    return curve_summary(list(grid), np.array(flat).reshape(len(targets), len(grid)).tolist(), samples)


def curve_summary(grid: list[float], curves: list[list[float]], samples: int) -> dict:
    """Per-request curves over `grid` as the report shows them: the mean curve with its standard error,
    the bid slope with its standard error (the figure that resolves a response), the mean curve's
    Spearman correlation with the bid, and the share of monotone requests."""
    rows = np.array(curves)
    averaged = rows.mean(axis=0).tolist()
    stderr = (rows.std(axis=0, ddof=1) / np.sqrt(len(rows))).tolist() if len(rows) > 1 else None
    slope, slope_stderr = bid_slope(grid, curves)
    return {"bids": grid, "clicks": averaged, "stderr": stderr, "requests": len(rows),
            "bid_slope": slope, "bid_slope_stderr": slope_stderr,
            "answers_per_bid": samples, "spearman": monotonicity(grid, averaged),
            "monotone_share": monotone_share(curves)}


def continuity_curve(generator, user, target: tuple[AuctionRequest, str], samples: int) -> dict:
    request, ad_id = target
    bids = list(range(1, 101))
    clicks = expected_clicks(generator, user, [(request, ad_id, b) for b in bids], samples)
    return {"request_id": request.request_id, "ad_id": ad_id, "ad_title": request.by_id[ad_id].ad.title,
            "query": request.query, "answers_per_bid": samples, "bids": bids, "clicks": clicks,
            "largest_jump": continuity(bids, clicks)}


def audit_bids(value: float) -> list[float]:
    return sorted({round(value * f, 2) for f in SHADING} | {round(value / ROI_TARGET, 2)})


def incentive_audit(generator, user, targets: list[tuple[AuctionRequest, str]], samples: int) -> dict:
    """First price, exact expected clicks. The advertiser's value is its bid in the test draw.

    Regret of truthful bidding: max over the shading grid of (v - b) clicks(b), minus (v - v) clicks(v) = 0
    by construction, so truthful bidding never pays and the regret is the best shaded utility. ROI
    share: value maximisers (maximise v clicks(b) subject to b <= v / tau) for whom bidding exactly
    v / tau is (within 0.02 clicks) the best bid under their cap.
    """
    grids = [audit_bids(request.bids()[ad_id]) for request, ad_id in targets]
    flat = iter(expected_clicks(generator, user, [(r, ad, b) for (r, ad), bids in zip(targets, grids) for b in bids],
                                samples))
    regrets, roi_best, rows = [], [], []
    for (request, ad_id), bids in zip(targets, grids):
        value = request.bids()[ad_id]
        clicks = {b: next(flat) for b in bids}
        utility = {b: (value - b) * c for b, c in clicks.items()}
        best_bid = max(utility, key=utility.get)
        regrets.append(utility[best_bid] - utility[round(value, 2)] if round(value, 2) in utility else 0.0)
        cap = round(value / ROI_TARGET, 2)
        roi_best.append(all(clicks[cap] >= clicks[b] - 0.02 for b in bids if b <= cap))
        rows.append({"request_id": request.request_id, "ad_id": ad_id, "value": value, "best_bid": best_bid,
                     "clicks": {str(b): c for b, c in clicks.items()}})
    return {"advertisers": len(targets), "mean_regret": mean(regrets), "worst_regret": max(regrets),
            "roi_target": ROI_TARGET, "roi_truthful_share": mean(roi_best), "shading_grid": list(SHADING),
            "rows": rows}
