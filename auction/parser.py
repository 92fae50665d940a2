"""Parse `@Ad Title@[Ad ID]` mentions out of an answer, reporting every format error by kind.

A mention is well formed when it matches MENTION_PATTERN: the paper's own example writes one space
before the ID (`@Title@ [Ad-4820]`), so exactly one space is allowed there and nothing looser. It inserts its ad only if the ID is a
candidate, the title is that candidate's exact title, and the ad was not inserted earlier in the
answer. Every other `@`, and every bracketed candidate ID outside a mention, is a malformed mention.
"""
from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from auction.types import MAX_AD_ID_CHARS, MAX_TITLE_CHARS, Ad, AuctionRequest, InsertedAd

MENTION_PATTERN = re.compile(
    r"@(?P<title>[^@\[\]\r\n]{1,%d})@ ?\[(?P<ad_id>[^@\[\]\s]{1,%d})\]" % (MAX_TITLE_CHARS, MAX_AD_ID_CHARS)
)
_BRACKETED = re.compile(r"\[(?P<ad_id>[^\[\]\s]{1,%d})\]" % MAX_AD_ID_CHARS)


class FormatErrorKind(str, enum.Enum):
    UNKNOWN_ID = "unknown_id"  # well formed, but the ID is not a candidate of this request
    TITLE_MISMATCH = "title_mismatch"  # the ID is a candidate, the title is not its title
    MALFORMED = "malformed"  # a stray `@`, a title with no `[ID]`, or a bare `[ID]`
    DUPLICATE = "duplicate"  # the ad was already inserted earlier in the answer


@dataclass(frozen=True)
class FormatError:
    kind: FormatErrorKind
    start: int
    end: int
    detail: str


@dataclass(frozen=True)
class ParsedAnswer:
    text: str
    inserted: tuple[InsertedAd, ...]
    errors: tuple[FormatError, ...]

    @property
    def ad_ids(self) -> tuple[str, ...]:
        return tuple(ad.ad_id for ad in self.inserted)


def render_mention(ad: Ad) -> str:
    """The exact text that inserts `ad` into an answer."""
    return f"@{ad.title}@[{ad.ad_id}]"


def parse_answer(text: str, candidates: dict[str, Ad] | list[Ad] | tuple[Ad, ...]) -> ParsedAnswer:
    """Find the ads an answer inserts, in order, and every format error it makes."""
    titles = _titles_by_id(candidates)
    inserted: list[InsertedAd] = []
    errors: list[FormatError] = []
    consumed: list[tuple[int, int]] = []
    for match in MENTION_PATTERN.finditer(text):
        consumed.append(match.span())
        error = _check_mention(match, titles, {ad.ad_id for ad in inserted})
        if error is not None:
            errors.append(error)
        else:
            inserted.append(InsertedAd(match["ad_id"], match["title"], match.start(), match.end(), len(inserted)))
    errors.extend(_malformed_leftovers(text, consumed, titles))
    errors.sort(key=lambda e: (e.start, e.end))
    return ParsedAnswer(text, tuple(inserted), tuple(errors))


def parse_request_answer(text: str, request: AuctionRequest) -> ParsedAnswer:
    """An answer parsed against its own request's candidates."""
    return parse_answer(text, [c.ad for c in request.candidates])


def _titles_by_id(candidates: dict[str, Ad] | list[Ad] | tuple[Ad, ...]) -> dict[str, str]:
    ads = candidates.values() if isinstance(candidates, dict) else candidates
    return {ad.ad_id: ad.title for ad in ads}


def _check_mention(match: re.Match[str], titles: dict[str, str], already: set[str]) -> FormatError | None:
    ad_id, title = match["ad_id"], match["title"]
    start, end = match.span()
    if ad_id not in titles:
        return FormatError(FormatErrorKind.UNKNOWN_ID, start, end, f"{ad_id!r} is not a candidate")
    if title != titles[ad_id]:
        return FormatError(FormatErrorKind.TITLE_MISMATCH, start, end, f"{title!r} is not the title of {ad_id!r}")
    if ad_id in already:
        return FormatError(FormatErrorKind.DUPLICATE, start, end, f"{ad_id!r} was already inserted")
    return None


@functools.lru_cache(maxsize=256)
def _stray_pattern(titles: frozenset[str]) -> re.Pattern[str]:
    """A candidate's `@Title@` not followed by a valid `[ID]` is one error; any other `@` is one each."""
    known = "|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True))
    return re.compile(f"@(?:{known})@|@" if known else "@")


def _malformed_leftovers(text: str, consumed: list[tuple[int, int]], titles: dict[str, str]) -> list[FormatError]:
    """Malformed mentions in the text between well-formed ones."""
    errors: list[FormatError] = []
    stray_pattern = _stray_pattern(frozenset(titles.values()))
    cursor = 0
    for start, end in [*consumed, (len(text), len(text))]:
        gap = text[cursor:start]
        for stray in stray_pattern.finditer(gap):
            errors.append(_malformed(cursor + stray.start(), cursor + stray.end(), f"stray mention {stray[0]!r}"))
        for bracket in _BRACKETED.finditer(gap):
            if bracket["ad_id"] in titles:
                errors.append(_malformed(cursor + bracket.start(), cursor + bracket.end(), "ad ID without @Title@"))
        cursor = end
    return errors


def _malformed(start: int, end: int, detail: str) -> FormatError:
    return FormatError(FormatErrorKind.MALFORMED, start, end, detail)


_SENTENCE_END = re.compile(r"[.!?\n]")
_MENTION = re.compile(r"@[^@\n]*@ ?\[[^\]\n]*\]")


def mention_sentence(text: str, start: int, end: int) -> str:
    """The sentence holding the mention at text[start:end], with every mention removed."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = _SENTENCE_END.search(text, end)
    sentence = text[left : stop.start() if stop else len(text)]
    return _MENTION.sub(" ", sentence).strip()
