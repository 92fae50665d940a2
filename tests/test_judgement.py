import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.judgement import JudgementError, parse_judgement, parse_queries

SHOWN = ("Ad-1", "Ad-2")


def reply(entries, prose_before="Sure! Here is my decision:\n```json\n", prose_after="\n```\nHope that helps."):
    return prose_before + json.dumps(entries) + prose_after


def test_a_valid_reply_wrapped_in_prose_and_fences_is_parsed():
    text = reply([{"ad_id": "Ad-1", "clicked": True, "reason": "fits"}, {"ad_id": "Ad-2", "clicked": False}])
    judgement = parse_judgement(text, SHOWN)
    assert judgement.clicks == {"Ad-1": True, "Ad-2": False}
    assert judgement.reasons["Ad-1"] == "fits"


def test_a_bracket_in_prose_before_the_list_does_not_hide_it():
    text = "I [the user] decide: " + json.dumps([{"ad_id": a, "clicked": False} for a in SHOWN])
    assert parse_judgement(text, SHOWN).clicks == {"Ad-1": False, "Ad-2": False}


def test_an_answer_without_ads_needs_no_list():
    assert parse_judgement("whatever", ()).clicks == {}


@pytest.mark.parametrize(
    "entries, reason",
    [
        ([{"ad_id": "Ad-1", "clicked": True}], "missing ad_ids \\['Ad-2'\\]"),
        ([{"ad_id": "Ad-1", "clicked": True}, {"ad_id": "Ad-9", "clicked": False}], "'Ad-9' is not an ad in the answer"),
        ([{"ad_id": "Ad-1", "clicked": True}, {"ad_id": "Ad-1", "clicked": False}], "judged twice"),
        ([{"ad_id": "Ad-1", "clicked": "yes"}, {"ad_id": "Ad-2", "clicked": False}], "clicked: must be true or false"),
        ([{"ad": "Ad-1", "clicked": True}], "ad_id: must be a string"),
        (["Ad-1", "Ad-2"], "must be an object"),
    ],
)
def test_planted_malformed_replies_are_rejected_with_the_reason(entries, reason):
    with pytest.raises(JudgementError, match=reason):
        parse_judgement(reply(entries), SHOWN)


def test_a_reply_with_no_json_list_is_rejected():
    with pytest.raises(JudgementError, match="no JSON list"):
        parse_judgement('{"ad_id": "Ad-1", "clicked": true}', SHOWN)


json_like = st.lists(st.sampled_from(list('[]{}",: Ad-12\n') + ['"ad_id"', '"clicked"', "true", "false"]), max_size=60).map("".join)


@settings(max_examples=500)
@given(st.one_of(json_like, st.text(max_size=200)))
def test_fuzzed_replies_either_parse_completely_or_raise_a_judgement_error(text):
    try:
        judgement = parse_judgement(text, SHOWN)
    except JudgementError:
        return
    assert set(judgement.clicks) == set(SHOWN)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(SHOWN), st.booleans()), max_size=4), st.text(max_size=30))
def test_fuzzed_entry_lists_are_accepted_exactly_when_each_ad_appears_once(pairs, prose):
    entries = [{"ad_id": a, "clicked": c} for a, c in pairs]
    ids = [a for a, _ in pairs]
    valid = sorted(ids) == sorted(SHOWN)
    text = prose.replace("[", "(") + json.dumps(entries)
    if valid:
        assert parse_judgement(text, SHOWN).clicks == dict(pairs)
    else:
        with pytest.raises(JudgementError):
            parse_judgement(text, SHOWN)


def test_query_lists_need_enough_usable_questions():
    assert parse_queries('Here: ["How do I brew tea?", " ", "Which shoes?"]', 2) == ["How do I brew tea?", "Which shoes?"]
    with pytest.raises(JudgementError, match="expected 3 questions"):
        parse_queries('["one?"]', 3)
