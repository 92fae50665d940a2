"""A word-level tokenizer for the tiny world: every word, number 1..100 and ad ID is one token.

Spaces and newlines are tokens of their own and the decoder concatenates, so decoding reproduces the
text exactly: a mention `@light running shoes@[Ad-3]` survives tokenization character for character.
"""
from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from judge.tiny_language import ad_ids, vocabulary

SPECIAL = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
PUNCTUATION = list('{}":,.@[]?!-_\'()%') + [" ", "\n"]
EXTRA_WORDS = ["Ad", "ID", "Title", "Bid", "system", "user", "assistant"]
# Ad IDs before plain words so "Ad-3" stays one token; then numbers, words, and single characters.
SPLIT_PATTERN = r"Ad-\d+|\d+|[A-Za-z]+|\s|[^\sA-Za-z\d]"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_vocabulary() -> list[str]:
    words = [*SPECIAL, *PUNCTUATION, *EXTRA_WORDS, *ad_ids(), *vocabulary()]
    return list(dict.fromkeys(words))


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: index for index, token in enumerate(tiny_vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated")
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
