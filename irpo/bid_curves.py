"""How a policy's allocation moves with one bid: monotonicity and continuity curves, and the incentive audit.

All three sweep one advertiser's bid with everything else fixed and measure that ad's expected clicks
under the simulated user, averaged over sampled answers.
"""
from __future__ import annotations

from statistics import mean

from auction.metrics import continuity, monotone_share, monotonicity
from auction.parser import parse_answer
from auction.types import AuctionRequest
from judge.simulated_user import SimulatedUser

SHADING = (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.6)  # bids tried, as multiples of the advertiser's value
ROI_TARGET = 1.25  # a value maximiser with this ROI target bids at most value / target


def expected_clicks(generator, user: SimulatedUser, request: AuctionRequest, ad_id: str, bid: float, samples: int,
                    seed: int) -> float:
    swept = request.with_bid(ad_id, bid)
    ads = [c.ad for c in swept.candidates]
    answers = [parse_answer(g.text, ads) for g in generator.generate(swept, samples, seed=seed)]
    return mean(user.click_probs(swept, a).get(ad_id, 0.0) for a in answers)


def monotonicity_curve(generator, user, targets: list[tuple[AuctionRequest, str]], grid, samples: int) -> dict:
    """Mean curve over requests, its Spearman correlation with the bid, and the share of monotone requests."""
    curves = [[expected_clicks(generator, user, r, ad, b, samples, seed=k) for k, b in enumerate(grid)]
              for r, ad in targets]
    averaged = [mean(c[i] for c in curves) for i in range(len(grid))]
    return {"bids": list(grid), "clicks": averaged, "spearman": monotonicity(grid, averaged),
            "monotone_share": monotone_share(curves)}


def continuity_curve(generator, user, target: tuple[AuctionRequest, str], samples: int) -> dict:
    request, ad_id = target
    bids = list(range(1, 101))
    clicks = [expected_clicks(generator, user, request, ad_id, b, samples, seed=b) for b in bids]
    return {"request_id": request.request_id, "ad_id": ad_id, "bids": bids, "clicks": clicks,
            "largest_jump": continuity(bids, clicks)}


def incentive_audit(generator, user, targets: list[tuple[AuctionRequest, str]], samples: int) -> dict:
    """First price, exact expected clicks. The advertiser's value is its bid in the test draw.

    Regret of truthful bidding: max over the shading grid of (v - b) clicks(b), minus (v - v) clicks(v) = 0
    by construction, so truthful bidding never pays and the regret is the best shaded utility. ROI
    share: value maximisers (maximise v clicks(b) subject to b <= v / tau) for whom bidding exactly
    v / tau is (within 0.02 clicks) the best bid under their cap.
    """
    regrets, roi_best, rows = [], [], []
    for request, ad_id in targets:
        value = request.bids()[ad_id]
        bids = sorted({round(value * f, 2) for f in SHADING} | {round(value / ROI_TARGET, 2)})
        clicks = {b: expected_clicks(generator, user, request, ad_id, b, samples, seed=i) for i, b in enumerate(bids)}
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
