"""A run's progress on the terminal: the plan at the start, then one line per stage with an ETA.

Estimates start from the default run's typical stage times on 2 CPU cores and then follow the run
itself: once a kind of stage (samples, pairs, ...) has been timed, its mean replaces the default.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("llm_auction.progress")
TYPICAL_SECONDS = {"samples": 45.0, "reward_model": 45.0, "pairs": 35.0, "policy": 36.0, "evaluation": 110.0}
OTHER_SECONDS = 2.0  # copies and other bookkeeping stages


COPIES = ("final/policy", "final/reward_model")  # the last epoch's outputs, published by a copy


def kind_of(stage: str) -> str:
    return "copy" if stage in COPIES else stage.rsplit("/", 1)[-1]


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _samples(r: dict) -> str:
    m = r.get("metrics", {})
    text = f"{r['answers']} answers at {r['tokens_per_second']:.0f} tokens/s"
    if m.get("allocation_efficiency") is not None:
        text += f"; policy efficiency {m['allocation_efficiency']:.3f}, revenue/query {m['revenue_per_query']:.2f}"
    return text


def _reward_model(r: dict) -> str:
    text = f"{r['click_rows']} click rows"
    if r.get("holdout_auc") is not None:
        text += f", held-out AUC {r['holdout_auc']:.3f}"
    return text + (" (no better than chance: previous model kept)" if r.get("reused") else "")


def _pairs(r: dict) -> str:
    return f"{r['prompts']} prompts, {r['pairs']} pairs from {r['answers']} answers"


def _policy(r: dict) -> str:
    if r.get("skipped"):
        return f"NOT TRAINED ({r['skipped']})"
    last = r.get("last_quarter") or {}
    stop = (f" (of {r['planned_optimizer_steps']}: stopped at KL {r['stopped_at_kl']:.2f})"
            if r.get("stopped_at_kl") is not None else "")
    return (f"{r['optimizer_steps']} DPO steps{stop} on {r['prompts']} prompts; loss {r['first_loss']:.3f} -> "
            f"{last.get('per_prompt', float('nan')):.3f}, pair accuracy {last.get('accuracy', float('nan')):.2f}, "
            f"implicit rewards winners {last.get('chosen_reward', float('nan')):+.3f} losers "
            f"{last.get('rejected_reward', float('nan')):+.3f}")


SUMMARIES: dict[str, Callable[[dict], str]] = {"samples": _samples, "reward_model": _reward_model, "pairs": _pairs,
                                               "policy": _policy}


def summarize(stage: str, result) -> str:
    """A stage's key figures; "" for stages without them (final/policy is a copy, not a DPO run)."""
    try:
        return SUMMARIES[kind_of(stage)](result)
    except (KeyError, TypeError):
        return ""


class Progress:
    """Announces a fixed plan of stage names and reports each as it ends."""

    def __init__(self, stages: list[str], typical: dict[str, float] | None = None):
        self.stages, self.typical = list(stages), dict(TYPICAL_SECONDS if typical is None else typical)
        self.timed: dict[str, list[float]] = {}
        self.finished: set[str] = set()

    def estimate(self, stage: str) -> float:
        seen = self.timed.get(kind_of(stage))
        return sum(seen) / len(seen) if seen else self.typical.get(kind_of(stage), OTHER_SECONDS)

    def remaining(self) -> float:
        return sum(self.estimate(s) for s in self.stages if s not in self.finished)

    def announce(self, before: str = "") -> None:
        kinds = ", ".join(dict.fromkeys(kind_of(s) for s in self.stages))
        log.info("plan: %s%d stages (%s), about %s", before, len(self.stages), kinds, minutes(self.remaining()))

    def started(self, stage: str) -> None:
        log.info("[stage %d/%d] %s: started (usually ~%s)", self._number(stage), len(self.stages), stage,
                 minutes(self.estimate(stage)))

    def done(self, stage: str, seconds: float | None, result: dict) -> None:
        """`seconds` None: the stage was already done by an earlier invocation."""
        self.finished.add(stage)
        if seconds is not None:
            self.timed.setdefault(kind_of(stage), []).append(seconds)
        summary = summarize(stage, result)
        timing = "already done" if seconds is None else f"done in {minutes(seconds)}"
        log.info("[stage %d/%d] %s: %s%s; ETA %s", self._number(stage), len(self.stages), stage, timing,
                 f" ({summary})" if summary else "", minutes(self.remaining()))

    def _number(self, stage: str) -> int:
        return self.stages.index(stage) + 1 if stage in self.stages else len(self.finished)
