"""A word-level tokenizer for the tiny world: every word, number 1..100, ad ID and ad title is one token.

Titles are catalogue entries like ad IDs, so each is one token: writing a mention is then choosing a
candidate, not copying several words (a few-million-parameter model blended titles word by word:
53% format errors). A title the tokenizer does not know still tokenizes, word by word.

Spaces and newlines are tokens of their own and the decoder concatenates, so decoding reproduces the
text exactly: a mention `@light running shoes@[Ad-3]` survives tokenization character for character.
"""
from __future__ import annotations

import re
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from judge.tiny_language import CATEGORIES, ad_ids, vocabulary

SPECIAL = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
PUNCTUATION = list('{}":,.@[]?!-_\'()%') + [" ", "\n"]
EXTRA_WORDS = ["Ad", "ID", "Title", "Bid", "system", "user", "assistant"]
# Titles (longest first) and ad IDs before plain words so each stays one token; then numbers, words,
# and single characters.
WORD_PATTERN = r"Ad-\d+|\d+|[A-Za-z]+|\s|[^\sA-Za-z\d]"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def ad_titles() -> list[str]:
    return [title for _, pairs in CATEGORIES.values() for title, _ in pairs]


def split_pattern() -> str:
    titles = sorted(ad_titles(), key=len, reverse=True)
    return "|".join([*(re.escape(t) for t in titles), WORD_PATTERN])


def tiny_vocabulary() -> list[str]:
    words = [*SPECIAL, *PUNCTUATION, *EXTRA_WORDS, *ad_ids(), *ad_titles(), *vocabulary()]
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
