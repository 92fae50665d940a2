import math

import pytest

from auction import Ad, AuctionRequest, Candidate, InvalidAdError, UserProfile, validate_title


@pytest.mark.parametrize("title", ["Cup @ home", "Cup [new]", "Cup]", "a@b"])
def test_titles_with_mention_delimiters_are_rejected_naming_the_characters(title):
    with pytest.raises(InvalidAdError, match="title: must not contain the mention delimiters"):
        validate_title(title)


@pytest.mark.parametrize("title", ["two\nlines", "tab\there", "bell\x07", "zero\u200bwidth"])
def test_titles_with_control_or_invisible_characters_are_rejected(title):
    with pytest.raises(InvalidAdError, match="printable"):
        validate_title(title)


@pytest.mark.parametrize("title", ["Café Crème 2-pack (500 g)", "東京 tea set", "50% off! Shoes, size 42"])
def test_printable_unicode_titles_are_accepted(title):
    assert Ad("Ad-9", title).title == title


def test_empty_padded_and_overlong_titles_are_rejected():
    for title, reason in [("", "empty"), (" Cup", "whitespace"), ("x" * 201, "at most 200")]:
        with pytest.raises(InvalidAdError, match=reason):
            validate_title(title)


@pytest.mark.parametrize("ad_id", ["", "Ad 1", "Ad-1]", "@Ad", "-Ad", "x" * 65])
def test_malformed_ad_ids_are_rejected(ad_id):
    with pytest.raises(InvalidAdError, match="ad_id"):
        Ad(ad_id, "Cup")


@pytest.mark.parametrize("bid", [-1, math.nan, math.inf, "10", True])
def test_bids_must_be_finite_non_negative_numbers(bid):
    with pytest.raises(InvalidAdError, match="bid"):
        Candidate(Ad("Ad-1", "Cup"), bid)


def test_duplicate_candidate_ids_are_rejected():
    cup = Candidate(Ad("Ad-1", "Cup"), 3)
    with pytest.raises(InvalidAdError, match="duplicate ad_id 'Ad-1'"):
        AuctionRequest("r", UserProfile("u"), "q", (cup, cup))


def test_with_bid_changes_one_bid_and_keeps_the_rest(request_3ads):
    swept = request_3ads.with_bid("Ad-2", 1)
    assert swept.bids() == {**request_3ads.bids(), "Ad-2": 1.0}
    with pytest.raises(KeyError, match="Ad-9"):
        request_3ads.with_bid("Ad-9", 1)
