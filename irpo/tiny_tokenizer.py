"""A word-level tokenizer for the tiny world: every word, number 1..100, ad ID, ad title, and every
catalogue ad's whole mention `@Title@[ID]` is one token.

The catalogue is closed, so its mentions are vocabulary, like ad IDs: writing a mention is choosing a
candidate, not copying. A few-million-parameter model could not bind title to ID across the prompt
(62% format errors with titles as tokens, 53% with titles word by word); an unknown-ID error (a
mention of an ad that is not a candidate) stays possible. Text outside the catalogue still tokenizes,
word by word, and every token decodes to exactly its text.

Spaces and newlines are tokens of their own and the decoder concatenates, so decoding reproduces the
text exactly: a mention `@light running shoes@[Ad-3]` survives tokenization character for character.
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
PUNCTUATION = list('{}":,.@[]?!-_\'()%') + [" ", "\n"]
EXTRA_WORDS = ["Ad", "ID", "Title", "Bid", "system", "user", "assistant"]
# Mentions and titles (longest first) and ad IDs before plain words so each stays one token; then
# numbers, words, and single characters.
WORD_PATTERN = r"Ad-\d+|\d+|[A-Za-z]+|\s|[^\sA-Za-z\d]"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def ad_titles() -> list[str]:
    return [title for _, pairs in CATEGORIES.values() for title, _ in pairs]


def ad_mentions() -> list[str]:
    return [render_mention(Ad(ad_id, title)) for ad_id, title in zip(ad_ids(), ad_titles())]


def split_pattern() -> str:
    whole = sorted([*ad_mentions(), *ad_titles()], key=len, reverse=True)
    return "|".join([*(re.escape(t) for t in whole), WORD_PATTERN])


def tiny_vocabulary() -> list[str]:
    words = [*SPECIAL, *PUNCTUATION, *EXTRA_WORDS, *ad_ids(), *ad_titles(), *ad_mentions(), *vocabulary()]
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
