"""JudgedSample: one sampled answer with its clicks, as the judge step writes it and every later stage reads it.

The judge parses the answer against its own request once; the ads it inserts (with their spans) and its
format errors are stored next to the clicks, so no later stage parses the text again. A record crosses a
file boundary in one of two forms: `to_dict` (JSON-native, for JSONL) and `to_row` (nested fields as JSON
strings, so Ray Data and parquet carry it as flat columns); `from_row` reads either.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from auction.codec import answer_from_mentions, mentions_to_dict, request_from_dict, request_to_dict
from auction.parser import ParsedAnswer
from auction.types import AuctionRequest

# JSON strings in a row (the prompt ids too: empty on most samples, and parquet cannot type an empty list)
NESTED = ("request", "mentions", "clicks", "click_probs", "prompt_ids")
COLUMNS = ("request_id", "purpose", "sample", "probe_ad", "request", "answer", "mentions", "clicks", "click_probs",
           "judge_ok", "judge_error", "token_ids", "prompt_ids")
ADDED_LATER = ("prompt_ids",)  # stored runs from before these columns read them as empty


@dataclass(frozen=True)
class JudgedSample:
    request: AuctionRequest
    answer: ParsedAnswer  # the text with the ads it inserts and its format errors
    clicks: Mapping[str, bool]  # realised clicks, one per inserted ad
    click_probs: Mapping[str, float]  # the simulated user's exact probabilities; empty under the LLM judge
    judge_ok: bool = True
    judge_error: str = ""  # why a failed judgement failed
    purpose: str = ""  # in a training run: reward, policy, eval or probe
    sample: int = 0  # index among the samples drawn for this row
    probe_ad: str = ""  # probe rows: the ad whose bid is swept
    token_ids: tuple[int, ...] = field(default=(), repr=False)  # the completion as the engine sampled it
    # the prompt as the engine tokenised it: kept on a policy-phase request's first sample, empty elsewhere
    prompt_ids: tuple[int, ...] = field(default=(), repr=False)

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def bids(self) -> dict[str, float]:
        return self.request.bids()

    def expected_clicks(self, exact: bool) -> dict[str, float]:
        """The simulated user's exact click probabilities, or the realised clicks as 0/1 (`exact=False`)."""
        if exact:
            return dict(self.click_probs)
        return {ad_id: float(clicked) for ad_id, clicked in self.clicks.items()}

    def to_dict(self) -> dict:
        return {"request_id": self.request_id, "purpose": self.purpose, "sample": self.sample,
                "probe_ad": self.probe_ad, "request": request_to_dict(self.request), "answer": self.answer.text,
                "mentions": mentions_to_dict(self.answer), "clicks": dict(self.clicks),
                "click_probs": dict(self.click_probs), "judge_ok": self.judge_ok, "judge_error": self.judge_error,
                "token_ids": list(self.token_ids), "prompt_ids": list(self.prompt_ids)}

    def to_row(self) -> dict:
        return {key: json.dumps(value, ensure_ascii=False) if key in NESTED else value
                for key, value in self.to_dict().items()}

    @classmethod
    def from_row(cls, row: Mapping) -> JudgedSample:
        """A record from `to_row`'s or `to_dict`'s form (token IDs as any sequence of ints; an answers file
        scored outside a rollout has none)."""
        raw = {**dict.fromkeys(ADDED_LATER, ()), **row}
        nested = {key: json.loads(raw[key]) if isinstance(raw[key], str) else raw[key] for key in NESTED}
        return cls(request_from_dict(nested["request"]), answer_from_mentions(str(row["answer"]), nested["mentions"]),
                   nested["clicks"], nested["click_probs"], bool(row["judge_ok"]), str(row["judge_error"]),
                   str(row["purpose"]), int(row["sample"]), str(row["probe_ad"]),
                   tuple(int(t) for t in row["token_ids"]), tuple(int(t) for t in nested["prompt_ids"]))


def order_key(sample: JudgedSample) -> tuple:
    """A fixed order for a stage's samples: Ray Data writes rows in whatever order its workers finish."""
    return sample.purpose, sample.request_id, sample.probe_ad, json.dumps(sample.bids), sample.sample
