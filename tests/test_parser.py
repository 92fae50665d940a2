import string

from hypothesis import given, settings
from hypothesis import strategies as st

from auction import Ad, FormatErrorKind, parse_answer, render_mention

CUP, SHOES, TEA = Ad("Ad-1", "Floral Coffee Cup"), Ad("Ad-2", "Trail Running Shoes"), Ad("Ad-3", "Organic Green Tea")
ADS = [CUP, SHOES, TEA]


def kinds(parsed):
    return [e.kind for e in parsed.errors]


def test_well_formed_mentions_are_inserted_in_order_with_exact_spans():
    text = f"Try {render_mention(SHOES)} for trails, and {render_mention(CUP)} after."
    parsed = parse_answer(text, ADS)
    assert parsed.ad_ids == ("Ad-2", "Ad-1")
    assert [text[a.start : a.end] for a in parsed.inserted] == [render_mention(SHOES), render_mention(CUP)]
    assert [a.position for a in parsed.inserted] == [0, 1]
    assert parsed.errors == ()


def test_an_answer_without_ads_has_no_insertions_and_no_errors():
    parsed = parse_answer("Just run in the park, it is free.", ADS)
    assert parsed.inserted == () and parsed.errors == ()


def test_each_kind_of_format_error_is_reported_and_not_inserted():
    text = (
        "@Floral Coffee Cup@[Ad-1] ok; @Mystery Box@[Ad-77] unknown; @Trail Shoes@[Ad-2] wrong title; "
        "@Floral Coffee Cup@[Ad-1] again; @Organic Green Tea@ no id; bare [Ad-3]; lone @ sign"
    )
    parsed = parse_answer(text, ADS)
    assert parsed.ad_ids == ("Ad-1",)
    assert kinds(parsed) == [
        FormatErrorKind.UNKNOWN_ID,
        FormatErrorKind.TITLE_MISMATCH,
        FormatErrorKind.DUPLICATE,
        FormatErrorKind.MALFORMED,
        FormatErrorKind.MALFORMED,
        FormatErrorKind.MALFORMED,
    ]
    assert text[parsed.errors[3].start : parsed.errors[3].end] == "@Organic Green Tea@"
    assert text[parsed.errors[4].start : parsed.errors[4].end] == "[Ad-3]"


def test_the_papers_one_space_before_the_id_is_a_correct_mention_with_its_span():
    text = "Brew it with @Organic Green Tea@ [Ad-3] tonight."
    parsed = parse_answer(text, ADS)
    assert parsed.ad_ids == ("Ad-3",) and parsed.errors == ()
    assert text[parsed.inserted[0].start : parsed.inserted[0].end] == "@Organic Green Tea@ [Ad-3]"


def test_looser_spacing_before_the_id_stays_a_format_error():
    for gap in ("  ", "\t", "\n", " \n"):
        parsed = parse_answer(f"Brew @Organic Green Tea@{gap}[Ad-3] now.", ADS)
        assert parsed.inserted == () and parsed.errors, repr(gap)


def test_brackets_that_are_not_candidate_ids_are_ordinary_text():
    assert parse_answer("See note [1] and [citation needed].", ADS).errors == ()


def test_a_mention_broken_by_a_newline_is_malformed_not_inserted():
    parsed = parse_answer("@Floral Coffee\nCup@[Ad-1]", ADS)
    assert parsed.inserted == ()
    assert FormatErrorKind.MALFORMED in kinds(parsed)


plain_text = st.text(alphabet=st.characters(blacklist_characters="@[]", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300)
@given(st.lists(st.tuples(plain_text, st.sampled_from(ADS)), max_size=6, unique_by=lambda t: t[1].ad_id), plain_text)
def test_generated_answers_round_trip_through_the_parser(pieces, tail):
    text = "".join(prose + render_mention(ad) for prose, ad in pieces) + tail
    parsed = parse_answer(text, ADS)
    assert parsed.errors == ()
    assert parsed.ad_ids == tuple(ad.ad_id for _, ad in pieces)
    for inserted in parsed.inserted:
        assert text[inserted.start : inserted.end] == f"@{inserted.title}@[{inserted.ad_id}]"


planted = st.sampled_from(
    [
        ("@Mystery Box@[Ad-77]", FormatErrorKind.UNKNOWN_ID),
        ("@Trail Shoes@[Ad-2]", FormatErrorKind.TITLE_MISMATCH),
        ("@Floral Coffee Cup@", FormatErrorKind.MALFORMED),
        (" @ ", FormatErrorKind.MALFORMED),
        ("[Ad-3]", FormatErrorKind.MALFORMED),
    ]
)


@settings(max_examples=300)
@given(st.lists(st.tuples(plain_text, planted), min_size=1, max_size=5), st.booleans())
def test_every_planted_format_error_is_reported(pieces, with_duplicate):
    text = render_mention(CUP) + " " + " ".join(prose + " " + error for prose, (error, _) in pieces)
    expected = [kind for _, (_, kind) in pieces]
    if with_duplicate:
        text += " " + render_mention(CUP)
        expected.append(FormatErrorKind.DUPLICATE)
    parsed = parse_answer(text, ADS)
    assert parsed.ad_ids == ("Ad-1",)
    assert kinds(parsed) == expected


hostile_alphabet = st.sampled_from(list("@[]@@[[]] \n") + list(string.ascii_letters[:6]) + ["Ad-1", "é", "東", "\u202e"])


@settings(max_examples=500)
@given(st.lists(hostile_alphabet, max_size=200).map("".join) | st.text(max_size=300))
def test_hostile_strings_never_crash_and_spans_stay_inside_the_text(text):
    parsed = parse_answer(text, ADS)
    for span in [*parsed.inserted, *parsed.errors]:
        assert 0 <= span.start < span.end <= len(text)
    assert [e.start for e in parsed.errors] == sorted(e.start for e in parsed.errors)


def test_very_long_hostile_input_still_finds_the_real_mention():
    text = ("@" * 5000 + "[" * 5000 + "Floral Coffee Cup" + "]" * 5000) * 4 + render_mention(TEA)
    parsed = parse_answer(text, ADS)
    assert parsed.ad_ids == ("Ad-3",)
    assert len(parsed.errors) > 0
