"""The tiny tokenizer, the pre-training corpus, and SFT under Ray Train with DeepSpeed."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM

from cluster.layout import TrainerRole
from auction.metrics import bid_percentile
from irpo.base.policy import build_tiny_base
from irpo.base.sft import IGNORE, tokenize_example
from irpo.base.sft_corpus import AnswerStyle, base_ads, compare_example, held_out_pair, sft_examples
from irpo.base.tiny_tokenizer import build_tiny_tokenizer
from irpo.config import BasePolicyConfig, SFTConfig
from judge.tiny_language import ad_ids
from judge.tiny_world import build_tiny_world

ROOT = Path(__file__).resolve().parents[1]

TOKENIZER = build_tiny_tokenizer()
WORLD = build_tiny_world(0)


def test_numbers_and_ad_ids_are_single_tokens():
    for text in [*map(str, range(1, 101)), *ad_ids()]:
        assert len(TOKENIZER(text, add_special_tokens=False)["input_ids"]) == 1, text


def test_a_candidate_line_is_eight_tokens_and_words_carry_their_leading_space():
    line = '{"Ad ID":"Ad-3","Ad Title":"green tea leaves","Ad Bid":42}\n'
    assert TOKENIZER.tokenize(line) == ['{"Ad ID":"', "Ad-3", '","Ad Title":"', "green tea leaves", '","Ad Bid":', "42",
                                        "}", "\n"]
    # numbers, IDs and mentions have one spelling: the space before them is a token of its own
    assert TOKENIZER.tokenize("try @green tea leaves@[Ad-3] for 42 .") == [
        "try", " ", "@green tea leaves@[Ad-3]", " for", " ", "42", " ."]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000))
def test_every_corpus_chat_tokenizes_without_unknowns_and_decodes_exactly(seed):
    for example in sft_examples(WORLD, 20, seed):
        row = tokenize_example(example, TOKENIZER)
        assert TOKENIZER.unk_token_id not in row["input_ids"]
        answer_ids = [t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE]
        answers = [example.answer, *(answer for _, answer in example.followups)]
        assert TOKENIZER.decode(answer_ids, skip_special_tokens=True) == "".join(answers)
        assert answer_ids.count(TOKENIZER.eos_token_id) == len(answers)


def test_the_corpus_mixes_auction_answers_with_general_tasks():
    kinds = [e.kind for e in sft_examples(WORLD, 4000, 0, auction_share=0.3)]
    assert 0.27 < kinds.count("auction") / len(kinds) < 0.33
    assert 0.46 < kinds.count("compare") / len(kinds) < 0.52
    assert {"compare", "sort", "extreme", "copy", "repeat", "associate"} <= set(kinds)


def test_corpus_auction_answers_insert_related_ads_and_follow_up_with_questions_on_the_prompt():
    """Like a pre-trained assistant: 1-3 ads, almost all of them related to the question or the user."""
    related, counts, followups = [], [], []
    for example in sft_examples(WORLD, 2000, 2, auction_share=1.0):
        query = next(q for q in WORLD.queries.values() if f"question : {q.text} ." in example.messages[1]["content"]
                     and all(f'"{a}"' in example.messages[1]["content"] for a in WORLD.candidate_ids(q)))
        inserted = [a for a in WORLD.candidate_ids(query) if f"[{a}]" in example.answer]
        related += [WORLD.is_related(query, a) for a in inserted]
        counts.append(len(inserted))
        followups += [question for question, _ in example.followups]
    assert 0.85 < sum(related) / len(related) < 0.97
    assert max(counts) <= 4 and sum(c == 0 for c in counts) < 0.05 * len(counts)  # 0: a mention broken on purpose
    assert 1 <= len(followups) / 2000 <= 3 and any("fit the user" in q for q in followups)


def _inserted_categories(style: AnswerStyle, n: int = 1500) -> list[list[str]]:
    """Per auction answer of a corpus in `style`, the categories of the related ads it inserts."""
    answers = []
    for example in sft_examples(WORLD, n, 4, auction_share=1.0, style=style):
        query = next(q for q in WORLD.queries.values() if f"question : {q.text} ." in example.messages[1]["content"]
                     and all(f'"{a}"' in example.messages[1]["content"] for a in WORLD.candidate_ids(q)))
        inserted = [a for a in WORLD.candidate_ids(query) if f"[{a}]" in example.answer and WORLD.is_related(query, a)]
        answers.append([WORLD.ads[a].category for a in inserted])
    return answers


def test_distinct_category_answers_never_repeat_a_category_and_still_vary_their_count():
    default = [c for c in _inserted_categories(AnswerStyle()) if len(c) > 1]
    distinct = _inserted_categories(AnswerStyle(distinct_categories=True))
    assert sum(len(set(c)) < len(c) for c in default) > 0.2 * len(default)  # the default repeats: the test can fail
    assert all(len(set(c)) == len(c) for c in distinct)
    counts = [len(c) for c in distinct]
    assert {1, 2, 3} <= set(counts) and 0.2 < sum(n >= 2 for n in counts) / len(counts) < 0.8


def test_where_no_candidate_fits_the_corpus_inserts_an_unrelated_ad_or_none_as_its_share_says():
    no_fit = [q for q in WORLD.split("train") if not any(WORLD.is_related(q, a) for a in WORLD.candidate_ids(q))]
    assert len(no_fit) > 50
    rng = random.Random(0)
    shipped = [base_ads(WORLD, q, rng, AnswerStyle()) for q in no_fit]
    half = [base_ads(WORLD, q, rng, AnswerStyle(no_fit_ad_share=0.5)) for q in no_fit for _ in range(4)]
    assert all(len(ads) == 1 for ads in shipped)
    assert all(len(ads) <= 1 for ads in half) and 0.35 < sum(not ads for ads in half) / len(half) < 0.65


def test_fresh_query_corpus_asks_questions_of_its_own_and_never_a_test_requests():
    prompts = {(q.user_id, q.text): q for q in WORLD.queries.values()}
    users = {f"user : {p.basic_info} , likes {' '.join(p.interests)} .": u for u, p in WORLD.profiles.items()}
    seen = []
    for example in sft_examples(WORLD, 1000, 3, auction_share=1.0, fresh_queries=True):
        user_line, question_line = example.messages[1]["content"].split("\n")[:2]
        seen.append(prompts.get((users[user_line], question_line.removeprefix("question : ").removesuffix(" ."))))
    assert not any(q is not None and q.split == "test" for q in seen)
    assert sum(q is None for q in seen) > 0.9 * len(seen)  # almost all new; a few repeat a train request by chance


def test_corpus_auction_answers_ignore_bids():
    """The inserted ads' bids rank like random candidates: the corpus teaches no bid preference."""
    percentiles = []
    for example in sft_examples(WORLD, 3000, 1, auction_share=0.5):
        if example.kind != "auction":
            continue
        lines = [json.loads(line) for line in example.messages[1]["content"].split("\n") if line.startswith("{")]
        bids = {line["Ad ID"]: line["Ad Bid"] for line in lines}
        percentiles += [bid_percentile(bids[a], list(bids.values())) for a in bids if f"[{a}]" in example.answer]
    assert abs(sum(percentiles) / len(percentiles) - 0.5) < 0.03


def test_association_answers_are_keywords_of_the_asked_words_category():
    from irpo.base.sft_corpus import association_example
    from judge.tiny_language import CATEGORIES

    rng = random.Random(0)
    for _ in range(200):
        example = association_example(WORLD, rng)
        question = example.messages[1]["content"]
        if question.startswith("what is @"):
            category = WORLD.ads[question.split("[")[1].split("]")[0]].category
        elif question.startswith("what is "):  # an ad's title, as a prompt lists it
            category = next(a.category for a in WORLD.ads.values() if question == f"what is {a.title} for")
        else:
            word = question.split()[-1]
            category = next(c for c, (keys, pairs) in CATEGORIES.items()
                            if word in keys or any(word in specific for _, specific in pairs))
        assert example.answer in CATEGORIES[category][0], (question, example.answer)


def test_held_out_number_pairs_never_appear_in_training():
    rng = random.Random(0)
    for _ in range(2000):
        example = compare_example(rng)
        a, b = map(int, example.messages[1]["content"].split()[-3::2])
        assert not held_out_pair(a, b)


def test_token_budget_batches_keep_every_row_within_the_budget_and_group_similar_lengths():
    from irpo.base.sft import token_budget_batches

    rows = [{"input_ids": [0] * length} for length in random.Random(0).choices(range(5, 400), k=300)]
    batches = token_budget_batches(rows, 1024, seed=0)
    assert sorted(len(r["input_ids"]) for b in batches for r in b) == sorted(len(r["input_ids"]) for r in rows)
    assert all(len(b) * max(len(r["input_ids"]) for r in b) <= 1024 for b in batches)
    spans = [max(len(r["input_ids"]) for r in b) - min(len(r["input_ids"]) for r in b) for b in batches]
    assert max(spans) < 120 and len(batches) < 300 / 2  # short rows share a batch


def test_bid_percentile_ranks_lowest_zero_highest_one_ties_averaged():
    assert bid_percentile(1, [1, 5, 9]) == 0.0 and bid_percentile(9, [1, 5, 9]) == 1.0
    assert bid_percentile(5, [5, 5, 1]) == 0.75


def test_sft_under_ray_train_with_deepspeed_writes_a_loadable_policy_and_lowers_the_loss(ray_local, tmp_path):
    config = BasePolicyConfig(examples=384, hidden_size=32, layers=1, heads=2,
                              sft=SFTConfig(batch_tokens=512, lr=1e-2, epochs=2))
    out = build_tiny_base(WORLD, tmp_path / "base", config, TrainerRole(workers=2, cpus=0.5, zero_stage=2))
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.hidden_size == 32 and (out / "tokenizer.json").is_file()
    losses = [row["loss"] for row in json.loads((out / "sft_history.json").read_text())]
    assert len(losses) >= 5 and losses[-1] < 0.8 * losses[0]


def test_a_saved_tiny_policy_loads_its_own_tokenizer_through_auto_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from irpo.base.tiny_model import init_tiny_policy

    directory = init_tiny_policy(tmp_path / "p", hidden=16, layers=1, heads=2)
    text = "assistant 48 @light running shoes@[Ad-3] ."
    loaded = AutoTokenizer.from_pretrained(directory)
    assert loaded.tokenize(text) == TOKENIZER.tokenize(text)
    assert loaded.decode(loaded(text, add_special_tokens=False)["input_ids"]) == text


def test_pretrained_embeddings_put_a_category_s_words_together_and_order_numbers_by_value():
    import torch

    from irpo.base.tiny_embeddings import pretrained_embeddings

    weights = pretrained_embeddings(TOKENIZER, 64, 0.02)
    row = lambda token: weights[TOKENIZER.convert_tokens_to_ids(token)]  # noqa: E731
    similarity = lambda a, b: torch.nn.functional.cosine_similarity(row(a), row(b), dim=0).item()  # noqa: E731
    assert similarity(" coffee", " beans") > similarity(" coffee", " guitar") + 0.2
    assert similarity(" coffee", "@dark roast coffee beans@[Ad-1]") > similarity(" tea", "@dark roast coffee beans@[Ad-1]")
    direction = row("100") - row("1")
    values = [float(row(str(n)) @ direction) for n in range(1, 101)]
    from auction.metrics import spearman

    assert spearman(list(range(1, 101)), values) > 0.9  # the value is readable along one direction


def test_the_initial_embeddings_are_bit_identical_in_processes_that_hash_differently():
    # The tokenizer's vocabulary comes back in a per-process order; the embeddings must not depend on it.
    probe = ("import hashlib; from irpo.base.tiny_embeddings import pretrained_embeddings; "
             "from irpo.base.tiny_tokenizer import build_tiny_tokenizer; "
             "print(hashlib.sha256(pretrained_embeddings(build_tiny_tokenizer(), 64, 0.02).numpy().tobytes()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.split()[-1] for seed in ("1", "2")}
    assert len(digests) == 1
