import json

import pytest

from judge.bids import draw_bids
from judge.tiny_language import vocabulary, words_of
from judge.tiny_world import build_tiny_world
from judge.world import WorldFileError, load_world, save_world


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_world(0)


def test_tiny_world_has_the_specified_shape(tiny):
    assert len(tiny.ads) == 40 and len(tiny.categories) == 20
    assert len(tiny.profiles) == 300 and len(tiny.queries) == 1500
    assert all(len(q.candidates) == 8 and len(set(q.candidates)) == 8 for q in tiny.queries.values())
    assert 0.1 < len(tiny.split("test")) / len(tiny.queries) < 0.3


def test_every_tiny_title_query_and_profile_word_is_in_the_closed_vocabulary(tiny):
    vocab = set(vocabulary())
    assert len(vocab) <= 800 and {str(n) for n in range(1, 101)} <= vocab
    texts = [a.title for a in tiny.ads.values()] + [q.text for q in tiny.queries.values()]
    texts += [p.basic_info for p in tiny.profiles.values()]
    assert {w for t in texts for w in words_of(t)} <= vocab


def test_tiny_candidates_include_competitors_and_irrelevant_ads(tiny):
    with_competitors = sum(
        1 for q in tiny.queries.values()
        if sum(tiny.ads[a].category == q.topics[0] for a in q.candidates) == 2
    )
    assert 0.5 < with_competitors / len(tiny.queries) < 0.9
    for q in tiny.queries.values():
        interests = tiny.profiles[q.user_id].interests
        assert any(tiny.ads[a].category not in (*q.topics, *interests) for a in q.candidates)


def test_the_same_seed_builds_the_same_world_and_another_seed_differs():
    assert build_tiny_world(3).queries == build_tiny_world(3).queries
    assert build_tiny_world(3).queries != build_tiny_world(4).queries


def test_bids_are_reproducible_per_key_and_fresh_per_phase_and_epoch():
    ids = [f"Ad-{k}" for k in range(1, 9)]
    first = draw_bids(0, "reward", 1, "q-1", ids)
    assert first == draw_bids(0, "reward", 1, "q-1", ids)
    assert all(b == int(b) and 1 <= b <= 100 for b in first.values())
    assert first != draw_bids(0, "reward", 2, "q-1", ids) and first != draw_bids(0, "policy", 1, "q-1", ids)


def test_bid_draws_are_uniform_on_1_to_100():
    bids = [b for k in range(3000) for b in draw_bids(0, "test", 0, f"q-{k}", ["a", "b"]).values()]
    assert min(bids) == 1 and max(bids) == 100
    assert abs(sum(bids) / len(bids) - 50.5) < 1.5


def test_a_saved_world_loads_back_identically(tiny, tmp_path):
    loaded = load_world(save_world(tiny, tmp_path / "tiny"))
    assert loaded.ads == tiny.ads and loaded.profiles == tiny.profiles and loaded.queries == tiny.queries


def _corrupt(directory, name, line_number, mutate):
    path = directory / name
    lines = path.read_text().splitlines()
    record = json.loads(lines[line_number - 1])
    mutate(record)
    lines[line_number - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "name, line, mutate, message",
    [
        ("ads.jsonl", 3, lambda r: r.update(title="Cup @ home"), "ads.jsonl:3: title: must not contain"),
        ("ads.jsonl", 2, lambda r: r.pop("category"), "ads.jsonl:2: category: required string"),
        ("ads.jsonl", 4, lambda r: r.update(ad_id="Ad-1"), "ads.jsonl:4: ad_id: duplicate 'Ad-1'"),
        ("profiles.jsonl", 5, lambda r: r.update(interests="coffee"), "profiles.jsonl:5: interests: must be a list"),
        ("queries.jsonl", 7, lambda r: r.update(split="dev"), "queries.jsonl:7: split: must be one of"),
        ("queries.jsonl", 9, lambda r: r.update(user_id="ghost"), "user_id: unknown user 'ghost'"),
        ("queries.jsonl", 9, lambda r: r.update(candidates=["Ad-999"]), "candidates: unknown ads ['Ad-999']"),
    ],
)
def test_bad_world_files_name_file_line_and_field(tiny, tmp_path, name, line, mutate, message):
    directory = save_world(tiny, tmp_path / "w")
    _corrupt(directory, name, line, mutate)
    with pytest.raises(WorldFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_world(directory)


def test_a_line_that_is_not_json_is_named(tiny, tmp_path):
    directory = save_world(tiny, tmp_path / "w")
    with open(directory / "profiles.jsonl", "a") as handle:
        handle.write("{not json\n")
    with pytest.raises(WorldFileError, match=r"profiles.jsonl:301: not valid JSON"):
        load_world(directory)
