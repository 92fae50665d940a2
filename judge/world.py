"""A world: the ad catalogue, the user profiles and their queries, split train/test.

On disk a world is a directory of JSONL files (schema in docs/WORLD_SCHEMA.md): `ads.jsonl`,
`profiles.jsonl`, `queries.jsonl`, plus `world.json` with its name and relevance mode. Loading
validates every line and names file, line and field on the first problems found.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from auction.types import Ad, AuctionRequest, Candidate, InvalidAdError, UserProfile, validate_ad_id, validate_title
from judge.jsonl import read_records

Relevance = Literal["category", "encoder"]
SPLITS = ("train", "test")


@dataclass(frozen=True)
class CatalogueAd:
    ad_id: str
    title: str
    category: str
    keywords: tuple[str, ...] = ()
    description: str = ""

    def as_ad(self) -> Ad:
        return Ad(self.ad_id, self.title, self.category)

    def text(self) -> str:
        """What the encoder reads for this ad: title, category and keywords."""
        return " ".join([self.title, self.category, *self.keywords, self.description]).strip()


@dataclass(frozen=True)
class Profile:
    user_id: str
    basic_info: str
    interests: tuple[str, ...]

    def as_user(self) -> UserProfile:
        return UserProfile(self.user_id, self.basic_info, self.interests)


@dataclass(frozen=True)
class Query:
    query_id: str
    user_id: str
    text: str
    topics: tuple[str, ...]
    split: str
    candidates: tuple[str, ...] | None = None  # None: every ad of the catalogue


@dataclass
class World:
    name: str
    relevance: Relevance
    ads: dict[str, CatalogueAd]
    profiles: dict[str, Profile]
    queries: dict[str, Query]
    categories: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.categories:
            self.categories = tuple(sorted({ad.category for ad in self.ads.values()}))

    def split(self, name: str) -> list[Query]:
        return [q for q in self.queries.values() if q.split == name]

    def candidate_ids(self, query: Query) -> tuple[str, ...]:
        return query.candidates if query.candidates is not None else tuple(self.ads)

    def is_related(self, query: Query, ad_id: str) -> bool:
        """The ad's category is a topic of the query or an interest of its user: what a fluent
        assistant would call a fitting ad, before it knows anything of bids or click rates."""
        category = self.ads[ad_id].category
        return category in query.topics or category in self.profiles[query.user_id].interests

    def request(self, query: Query, bids: dict[str, float]) -> AuctionRequest:
        """The auction for one query with the given bids (one per candidate)."""
        candidates = tuple(Candidate(self.ads[a].as_ad(), bids[a]) for a in self.candidate_ids(query))
        return AuctionRequest(query.query_id, self.profiles[query.user_id].as_user(), query.text, candidates)


class WorldFileError(ValueError):
    """A world file that cannot be loaded; the message names file, line and field."""


FILES = {"ads": "ads.jsonl", "profiles": "profiles.jsonl", "queries": "queries.jsonl"}


def save_world(world: World, out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"name": world.name, "relevance": world.relevance, "categories": list(world.categories)}
    (out / "world.json").write_text(json.dumps(meta, indent=2) + "\n")
    for key, rows in (("ads", world.ads), ("profiles", world.profiles), ("queries", world.queries)):
        with open(out / FILES[key], "w") as handle:
            for row in rows.values():
                record = {k: v for k, v in asdict(row).items() if v is not None}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def load_world(directory: str | Path) -> World:
    directory = Path(directory)
    meta = _read_meta(directory / "world.json")
    ads = _read_rows(directory / FILES["ads"], _parse_ad, "ad_id")
    profiles = _read_rows(directory / FILES["profiles"], _parse_profile, "user_id")
    queries = _read_rows(directory / FILES["queries"], _parse_query, "query_id")
    world = World(meta["name"], meta["relevance"], ads, profiles, queries, tuple(meta.get("categories", ())))
    _check_references(world, directory)
    return world


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise WorldFileError(f"{path}: file not found")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise WorldFileError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise WorldFileError(f"{path}: name: required string")
    if meta.get("relevance") not in ("category", "encoder"):
        raise WorldFileError(f"{path}: relevance: must be 'category' or 'encoder', got {meta.get('relevance')!r}")
    return meta


def _read_rows(path: Path, parse, key: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for where, record in read_records(path, WorldFileError):
        try:
            row = parse(_Fields(record))
        except (_FieldError, InvalidAdError) as err:
            raise WorldFileError(f"{where}: {err}") from None
        if getattr(row, key) in rows:
            raise WorldFileError(f"{where}: {key}: duplicate {getattr(row, key)!r}")
        rows[getattr(row, key)] = row
    return rows


class _FieldError(ValueError):
    pass


class _Fields:
    """Typed access to one JSON record; errors name the field."""

    def __init__(self, record: dict[str, Any]):
        self.record = record

    def text(self, name: str, default: str | None = None) -> str:
        value = self.record.get(name, default)
        if not isinstance(value, str):
            raise _FieldError(f"{name}: required string" if value is None else f"{name}: must be a string")
        return value

    def texts(self, name: str, required: bool = True) -> tuple[str, ...] | None:
        value = self.record.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _FieldError(f"{name}: must be a list of strings")
        return tuple(value)


def _parse_ad(f: _Fields) -> CatalogueAd:
    ad_id = f.text("ad_id")
    validate_ad_id(ad_id)
    validate_title(f.text("title"))
    return CatalogueAd(ad_id, f.text("title"), f.text("category"), f.texts("keywords"), f.text("description", ""))


def _parse_profile(f: _Fields) -> Profile:
    return Profile(f.text("user_id"), f.text("basic_info", ""), f.texts("interests"))


def _parse_query(f: _Fields) -> Query:
    split = f.text("split")
    if split not in SPLITS:
        raise _FieldError(f"split: must be one of {SPLITS}, got {split!r}")
    candidates = f.texts("candidates", required=False)
    return Query(f.text("query_id"), f.text("user_id"), f.text("text"), f.texts("topics"), split, candidates)


def _check_references(world: World, directory: Path) -> None:
    path = directory / FILES["queries"]
    for number, query in enumerate(world.queries.values(), start=1):
        if query.user_id not in world.profiles:
            raise WorldFileError(f"{path}: query {query.query_id!r}: user_id: unknown user {query.user_id!r}")
        unknown = [a for a in query.candidates or () if a not in world.ads]
        if unknown:
            raise WorldFileError(f"{path}: query {query.query_id!r}: candidates: unknown ads {unknown}")
        if world.relevance == "category":
            bad = [t for t in query.topics if t not in world.categories]
            if bad:
                raise WorldFileError(f"{path}: query {query.query_id!r}: topics: unknown categories {bad}")
