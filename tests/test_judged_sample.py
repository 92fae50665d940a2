"""The judged-sample record: what the judge step writes once and every later stage reads."""
import json
import random

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auction import Ad, AuctionRequest, Candidate, UserProfile, render_mention
from auction.parser import parse_request_answer
from irpo.loop.sampling import read_samples
from judge.judged_sample import COLUMNS, JudgedSample
from judge.tiny_world import build_tiny_world
from judge.worker import JudgeWorker

ADS = [Ad("Ad-1", "Floral Coffee Cup"), Ad("Ad-2", "Trail Running Shoes"), Ad("Ad-3", "Organic Green Tea")]
REQUEST = AuctionRequest("q-1", UserProfile("u-1", "runner, 30s", ("tea", "trails")), "What should I drink?",
                         tuple(Candidate(ad, bid) for ad, bid in zip(ADS, (12.0, 55.5, 100.0))))
PIECES = [render_mention(ad) for ad in ADS] + ["@Mystery Box@[Ad-77]", "@Trail Shoes@[Ad-2]", "@Floral Coffee Cup@",
                                               " @ ", "[Ad-3]", "@Organic Green Tea@ [Ad-3]", "é ", "so, ", "\n"]


def judged(text: str, **fields) -> JudgedSample:
    answer = parse_request_answer(text, REQUEST)
    clicks = {ad_id: i % 2 == 0 for i, ad_id in enumerate(answer.ad_ids)}
    probs = {ad_id: 0.125 * (i + 1) for i, ad_id in enumerate(answer.ad_ids)}
    return JudgedSample(REQUEST, answer, clicks, probs, **fields)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_a_judged_sample_reads_back_from_its_row_and_its_jsonl_form_exactly(pieces):
    record = judged("".join(pieces), purpose="policy", sample=3, token_ids=(5, 9, 2))
    assert JudgedSample.from_row(record.to_row()) == record
    assert JudgedSample.from_row(json.loads(json.dumps(record.to_dict()))) == record
    assert tuple(record.to_row()) == COLUMNS
    assert all(isinstance(value, (str, int, bool, list)) for value in record.to_row().values())


def test_the_stored_parse_keeps_every_span_and_error_kind_the_parser_found():
    text = f"Try {render_mention(ADS[1])} then @Mystery Box@[Ad-77] and {render_mention(ADS[1])} or [Ad-3]."
    stored = JudgedSample.from_row(judged(text).to_row()).answer
    assert stored == parse_request_answer(text, REQUEST)
    assert [text[ad.start : ad.end] for ad in stored.inserted] == [render_mention(ADS[1])]
    assert [e.kind.value for e in stored.errors] == ["unknown_id", "duplicate", "malformed"]


def test_expected_clicks_are_exact_probabilities_or_the_realised_clicks_as_numbers():
    record = judged(render_mention(ADS[0]) + " " + render_mention(ADS[2]))
    assert record.expected_clicks(exact=True) == {"Ad-1": 0.125, "Ad-3": 0.25}
    assert record.expected_clicks(exact=False) == {"Ad-1": 1.0, "Ad-3": 0.0}


def test_the_judge_worker_parses_each_answer_against_the_request_its_row_carries():
    from auction.codec import request_to_json

    world = build_tiny_world(0)
    query = world.split("train")[0]
    ad = world.ads[world.candidate_ids(query)[0]]
    request = world.request(query, {a: 7.0 for a in world.candidate_ids(query)})
    text = f"for {ad.keywords[0]} try {render_mention(ad.as_ad())} ."
    batch = {"request_id": [query.query_id], "request": [request_to_json(request)], "answer": [text],
             "purpose": ["reward"], "probe_ad": [""], "sample": [2], "token_ids": [[4, 5]]}
    (record,) = JudgeWorker({"seed": 3}).judge_batch(batch)
    assert record.request == request and record.answer == parse_request_answer(text, request)
    assert set(record.clicks) == set(record.click_probs) == {ad.ad_id}
    assert (record.purpose, record.sample, record.token_ids) == ("reward", 2, (4, 5))


def test_a_stages_samples_read_back_in_one_order_whatever_order_they_were_written_in(tmp_path):
    records = [judged(render_mention(ADS[i % 3]), purpose=p, sample=i, token_ids=(i,))
               for p in ("policy", "eval") for i in range(4)]
    rows = [r.to_row() for r in records]
    random.Random(0).shuffle(rows)
    (tmp_path / "samples").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "samples" / "part-0.parquet")
    assert [(s.purpose, s.sample) for s in read_samples(tmp_path)] == [(p, i) for p in ("eval", "policy") for i in range(4)]
    assert read_samples(tmp_path, "policy") == [r for r in records if r.purpose == "policy"]


def test_prompt_ids_kept_on_some_samples_only_read_back_across_parquet_files_written_apart(tmp_path):
    """Ray Data writes a file per block: a block whose samples keep no prompt must still read with one that does."""
    kept = judged(render_mention(ADS[0]), purpose="policy", sample=0, token_ids=(1,), prompt_ids=(5, 6, 7))
    bare = [judged(render_mention(ADS[1]), purpose="eval", sample=i, token_ids=(2,)) for i in range(2)]
    (tmp_path / "samples").mkdir()
    pd.DataFrame([kept.to_row()]).to_parquet(tmp_path / "samples" / "part-0.parquet")
    pd.DataFrame([r.to_row() for r in bare]).to_parquet(tmp_path / "samples" / "part-1.parquet")
    assert read_samples(tmp_path) == [*bare, kept]
    assert read_samples(tmp_path, "policy")[0].prompt_ids == (5, 6, 7)


def test_samples_stored_before_prompt_ids_were_kept_read_back_with_none(tmp_path):
    rows = [{k: v for k, v in judged(render_mention(ADS[0]), sample=0, token_ids=(1,)).to_row().items()
             if k != "prompt_ids"}]
    (tmp_path / "samples").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "samples" / "part-0.parquet")
    assert read_samples(tmp_path)[0].prompt_ids == ()


def test_samples_without_the_judged_columns_are_refused_naming_what_is_missing(tmp_path):
    (tmp_path / "samples").mkdir()
    pd.DataFrame([{"request_id": "q-1", "answer": "hi", "inserted": "[]"}]).to_parquet(tmp_path / "samples" / "p.parquet")
    with pytest.raises(ValueError, match=r"columns \['purpose', 'sample'.*'mentions'.*delete"):
        read_samples(tmp_path)
