"""The LLM judge: the User-LLM decides clicks; unparseable replies are re-asked, then counted."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from auction.parser import ParsedAnswer
from auction.types import AuctionRequest, UserProfile
from judge.chat_backends import ChatBackend
from judge.config import LLMJudgeConfig
from judge.judgement import JudgementError, judgement_schema, parse_judgement, parse_queries
from judge.llm_prompts import click_messages, query_messages


@dataclass(frozen=True)
class JudgeResult:
    clicks: dict[str, bool]  # empty when the judgement failed
    ok: bool
    attempts: int
    error: str = ""


class LLMJudge:
    def __init__(self, backend: ChatBackend, config: LLMJudgeConfig):
        self.backend, self.config = backend, config
        self.failures: Counter[str] = Counter()  # reason -> count, over the judge's lifetime

    def judge(self, items: list[tuple[AuctionRequest, ParsedAnswer]], seed: int = 0) -> list[JudgeResult]:
        """Clicks for every (request, answer); answers without ads need no call."""
        results: list[JudgeResult | None] = [
            JudgeResult({}, True, 0) if not answer.inserted else None for _, answer in items
        ]
        errors = {i: "" for i, r in enumerate(results) if r is None}
        for attempt in range(1, self.config.max_retries + 2):
            pending = [i for i, r in enumerate(results) if r is None]
            if not pending:
                break
            schemas = [judgement_schema(items[i][1].ad_ids) for i in pending] if self.config.constrained_json else None
            replies = self.backend.complete([click_messages(*items[i]) for i in pending], seed + attempt, schemas)
            for i, reply in zip(pending, replies):
                try:
                    if reply is None:
                        raise JudgementError("no reply from the backend")
                    results[i] = JudgeResult(parse_judgement(reply, items[i][1].ad_ids).clicks, True, attempt)
                except JudgementError as err:
                    errors[i] = str(err)
        final = []
        for i, result in enumerate(results):
            if result is None:
                self.failures[errors[i]] += 1
                result = JudgeResult({}, False, self.config.max_retries + 1, errors[i])
            final.append(result)
        return final

    def write_queries(self, user: UserProfile, n: int, seed: int = 0) -> list[str]:
        """`n` questions this user would ask; raises JudgementError after the retries fail."""
        error = "no attempt made"
        for attempt in range(1, self.config.max_retries + 2):
            (reply,) = self.backend.complete([query_messages(user, n)], seed + attempt)
            try:
                return parse_queries(reply or "", n)
            except JudgementError as err:
                error = str(err)
        raise JudgementError(f"query generation for {user.user_id!r} failed: {error}")
