"""The pCTR model's click rows and input features: mention sentences, ad relevance products, similarities."""
import numpy as np
import pandas as pd

from irpo.config import RewardModelConfig
from judge.judged_sample import JudgedSample


def test_click_rows_carry_each_mentions_sentence_and_features_concatenate_the_chosen_texts():
    from auction.parser import parse_request_answer, render_mention
    from irpo.reward.data import IdIndex, click_rows, feature_arrays, text_columns
    from judge.tiny_world import build_tiny_world

    world = build_tiny_world(0)
    query = world.split("train")[0]
    first, second = (world.ads[a] for a in world.candidate_ids(query)[:2])
    request = world.request(query, {a: 10.0 for a in world.candidate_ids(query)})
    answer = f"for tea try {render_mention(first.as_ad())} today . {render_mention(second.as_ad())} is good ."
    sample = JudgedSample(request, parse_request_answer(answer, request), {first.ad_id: True}, {})
    rows = click_rows([sample])
    assert [c.split() for c in rows["context"]] == [["for", "tea", "try", "today"], ["is", "good"]]
    assert list(rows["clicked"]) == [1, 0] and list(rows["position"]) == [0, 1]
    texts = {t: np.full(4, i, np.float32) for i, t in enumerate({*rows["query"], *rows["answer"], *rows["context"]})}
    users, ads = IdIndex(list(rows["user_id"])), IdIndex(list(rows["ad_id"]))
    with_context = feature_arrays(rows, texts, users, ads, text_columns(RewardModelConfig(similarities=False)))
    assert with_context["text"].shape == (2, 12)
    assert (with_context["text"][1, 8:] == texts["is good"]).all()
    plain = text_columns(RewardModelConfig(mention_context=False, similarities=False))
    assert feature_arrays(rows, texts, users, ads, plain)["text"].shape == (2, 8)


def one_click_row() -> pd.DataFrame:
    """One inserted ad whose texts are the single letters q (query), y (answer), s (mention), t (ad)."""
    return pd.DataFrame([{"query": "q", "answer": "y", "context": "s", "ad": "t", "user_id": "u", "ad_id": "Ad-1",
                          "position": 0, "count": 1}])


def unit_embeddings() -> dict[str, np.ndarray]:
    """Random unit vectors of width 4 for the texts of `one_click_row`."""
    return {t: v / np.linalg.norm(v) for t, v in zip("qyst", np.random.default_rng(0).normal(size=(4, 4)))}


def test_ad_relevance_features_add_the_title_and_its_products_with_the_profile_and_the_mention_sentence():
    from irpo.reward.data import IdIndex, embedded_columns, feature_arrays, text_columns, texts_of

    columns = text_columns(RewardModelConfig(ad_relevance=True, similarities=False))
    assert columns == ("query", "answer", "context", "ad", "query*ad", "context*ad")
    assert embedded_columns(columns) == ("query", "answer", "context", "ad")
    rows = one_click_row()
    assert texts_of(rows, columns) == ["q", "y", "s", "t"]
    unit = unit_embeddings()
    text = feature_arrays(rows, unit, IdIndex(["u"]), IdIndex(["Ad-1"]), columns)["text"][0]
    assert text.shape == (6 * 4,)
    assert np.allclose(text[16:20], unit["q"] * unit["t"] * 2) and np.allclose(text[20:24], unit["s"] * unit["t"] * 2)
    assert np.isclose(text[16:20].sum() / 2, unit["q"] @ unit["t"])  # their sum is the cosine similarity


def test_similarity_features_are_scaled_cosines_after_the_vectors_and_the_model_reads_them_in_its_linear_term():
    import torch

    from irpo.reward.data import IdIndex, embedded_columns, feature_arrays, text_columns
    from irpo.reward.trainer import build_model, logits_of

    columns = text_columns(RewardModelConfig())
    assert columns == ("query", "answer", "context", "query~ad", "answer~ad", "context~ad")
    assert embedded_columns(columns) == ("query", "answer", "context", "ad")
    rows = one_click_row()
    unit = unit_embeddings()
    arrays = feature_arrays(rows, unit, IdIndex(["u"]), IdIndex(["Ad-1"]), columns)
    assert arrays["text"].shape == (1, 3 * 4 + 3)
    assert np.allclose(arrays["text"][0, 12:], [2 * unit[t] @ unit["t"] for t in "qys"])  # cosine x sqrt(d)
    meta = {"text_dim": 4, "text_columns": list(columns), "n_users": 1, "n_ads": 1, "user_dim": 2, "ad_dim": 2,
            "hidden": [4]}
    model = build_model(meta)
    batch = {k: torch.from_numpy(v) for k, v in arrays.items()}
    with torch.no_grad():
        model.wide.weight.zero_()
        mlp_only = logits_of(model, batch, 4)
        model.wide.weight[0, 0] = 1.0  # the query's similarity alone, straight onto the logit
        with_query = logits_of(model, batch, 4)
    assert torch.allclose(with_query - mlp_only, batch["text"][:, 12], atol=1e-6)


def test_similarity_parts_read_the_question_alone_and_the_users_closest_interest():
    from irpo.reward.data import IdIndex, feature_arrays, text_columns, texts_of

    columns = text_columns(RewardModelConfig(mention_context=False, similarities=False, similarity_parts=True))
    assert columns == ("query", "answer", "question~ad", "interests~ad")
    rows = one_click_row().assign(question="w", interests="a\nb")
    vectors = np.eye(4, dtype=np.float32)
    unit = {"q": vectors[0], "y": vectors[0], "t": vectors[1], "w": vectors[2],
            "a": vectors[3], "b": (vectors[1] + vectors[3]) / np.sqrt(2)}
    assert texts_of(rows, columns) == ["q", "y", "w", "t", "a", "b"]  # each interest embedded on its own
    text = feature_arrays(rows, unit, IdIndex(["u"]), IdIndex(["Ad-1"]), columns)["text"][0]
    assert np.allclose(text[8:], [0.0, 2 / np.sqrt(2)])  # question unrelated; interest b at cosine 0.71 (x sqrt(4))


def test_other_ads_similarity_is_an_ads_closest_other_ad_in_its_answer_and_zero_for_a_lone_ad():
    from auction.parser import parse_request_answer, render_mention
    from irpo.reward.data import IdIndex, click_rows, feature_arrays, text_columns, texts_of
    from judge.judged_sample import JudgedSample
    from judge.tiny_world import build_tiny_world

    columns = text_columns(RewardModelConfig(mention_context=False, similarities=False, other_ads=True))
    assert columns == ("query", "answer", "other_ads~ad")
    world = build_tiny_world(0)
    query = world.split("train")[0]
    first, second, third = (world.ads[a] for a in world.candidate_ids(query)[:3])
    request = world.request(query, {a: 10.0 for a in world.candidate_ids(query)})
    mentions = " . ".join(f"try {render_mention(ad.as_ad())}" for ad in (first, second, third))
    samples = [JudgedSample(request, parse_request_answer(text, request), {}, {})
               for text in (mentions, f"try {render_mention(first.as_ad())} .")]
    rows = click_rows(samples)
    ad_texts = list(rows["ad"][:3])
    assert rows["other_ads"][0].split("\n") == ad_texts[1:] and rows["other_ads"][3] == ""
    vectors = dict(zip(texts_of(rows, columns), np.random.default_rng(1).normal(size=(20, 4))))
    unit = {t: v / np.linalg.norm(v) for t, v in vectors.items()}
    text = feature_arrays(rows, unit, IdIndex(["u"]), IdIndex(["a"]), columns)["text"]
    closest = max(float(unit[ad_texts[0]] @ unit[t]) for t in ad_texts[1:])
    assert np.isclose(text[0, -1], closest * 2) and text[3, -1] == 0  # cosine x sqrt(4); a lone ad: 0


def test_click_rows_carry_the_question_and_the_users_interests_one_per_line():
    from auction.parser import parse_request_answer, render_mention
    from irpo.reward.data import click_rows
    from judge.judged_sample import JudgedSample
    from judge.tiny_world import build_tiny_world

    world = build_tiny_world(0)
    query = world.split("train")[0]
    ad = world.ads[world.candidate_ids(query)[0]]
    request = world.request(query, {a: 10.0 for a in world.candidate_ids(query)})
    sample = JudgedSample(request, parse_request_answer(f"try {render_mention(ad.as_ad())} .", request), {}, {})
    (row,) = click_rows([sample]).to_dict("records")
    assert row["question"] == request.query and row["interests"].split("\n") == list(request.user.interests)
