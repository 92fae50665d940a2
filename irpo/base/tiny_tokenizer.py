"""A word-level tokenizer for the tiny world: every word, number 1..100, ad ID, ad title, and every
catalogue ad's whole mention `@Title@[ID]` is one token.

The catalogue is closed, so its mentions are vocabulary, like ad IDs: writing a mention is choosing a
candidate, not copying. A few-million-parameter model could not bind title to ID across the prompt
(62% format errors with titles as tokens, 53% with titles word by word); an unknown-ID error (a
mention of an ad that is not a candidate) stays possible. Text outside the catalogue still tokenizes,
word by word, and every token decodes to exactly its text.

Like a BPE tokenizer trained on this corpus, a word or punctuation mark carries its leading space
(" music" is one token) and the fixed pieces of a candidate's JSON line are one token each
(`","Ad Bid":`): a prompt is ~120 tokens, not ~390, which makes SFT, rollouts and DPO ~3x cheaper.
Numbers, IDs, titles and mentions have one spelling only (a space before them is its own token), so
the model learns one token per number. The decoder concatenates: decoding reproduces the text exactly.
"""
from __future__ import annotations

import re
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from auction.parser import render_mention
from auction.types import Ad
from judge.tiny_language import CATEGORIES, ad_ids, vocabulary

SPECIAL = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
PUNCTUATION = list('{}":,.@[]?!-_\'()%')
SPACES = [" ", "\n"]
EXTRA_WORDS = ["Ad", "ID", "Title", "Bid", "system", "user", "assistant"]
# The fixed pieces of a candidate line {"Ad ID":"Ad-3","Ad Title":"...","Ad Bid":42} (rollout/prompt.py).
JSON_PIECES = ['{"Ad ID":"', '","Ad Title":"', '","Ad Bid":']
# After the JSON pieces, mentions and titles (longest first): ad IDs and numbers alone, then a word or a
# punctuation mark with its leading space, then a lone space or newline.
WORD_PATTERN = r"Ad-\d+|\d+| ?[A-Za-z]+| ?[^\sA-Za-z\d]|\s"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def ad_titles() -> list[str]:
    return [title for _, pairs in CATEGORIES.values() for title, _ in pairs]


def ad_mentions() -> list[str]:
    return [render_mention(Ad(ad_id, title)) for ad_id, title in zip(ad_ids(), ad_titles())]


def split_pattern() -> str:
    whole = [re.escape(t) for t in [*JSON_PIECES, *sorted([*ad_mentions(), *ad_titles()], key=len, reverse=True)]]
    # A space before a number, ID, title or mention stays a token of its own: those have one spelling.
    bare_next = r"\s(?=" + "|".join([*whole[len(JSON_PIECES):], r"Ad-\d", r"\d"]) + ")"
    return "|".join([*whole, bare_next, WORD_PATTERN])


def tiny_vocabulary() -> list[str]:
    spaced = [*PUNCTUATION, *EXTRA_WORDS, *(w for w in vocabulary() if not w.isdigit())]
    words = [*SPECIAL, *SPACES, *JSON_PIECES, *ad_ids(), *ad_titles(), *ad_mentions(), *vocabulary(),
             *PUNCTUATION, *EXTRA_WORDS, *(f" {w}" for w in spaced)]
    return list(dict.fromkeys(words))


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: index for index, token in enumerate(tiny_vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(split_pattern()), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>",
        bos_token=None, additional_special_tokens=["<|im_start|>"], clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tiny_tokenizer(out: str | Path) -> PreTrainedTokenizerFast:
    tokenizer = build_tiny_tokenizer()
    tokenizer.save_pretrained(out)
    return tokenizer
