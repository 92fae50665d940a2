"""The tiny policy's architecture: a Llama decoder of a few million parameters for the tiny tokenizer.

Llama rather than Qwen3: Qwen3 normalises queries and keys per head, which bounds attention logits
at initialisation; a 4-layer Qwen3 learnt to copy a random sequence ~3x slower than the same Llama
(loss 1.48 vs 0.36 after 1,250 steps), and the tiny base never learnt to read values off its prompt.
Not Qwen2: transformers 5 forces its own Qwen2Tokenizer onto any directory whose model type is qwen2,
which would silently replace the word-level tiny tokenizer; for llama it honours the tokenizer the
directory holds (tests/test_base_policy.py pins this).
"""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from irpo.base.tiny_tokenizer import save_tiny_tokenizer


def tiny_llama_config(tokenizer: PreTrainedTokenizerBase, hidden: int = 256, layers: int = 4, heads: int = 4,
                      max_positions: int = 1024) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, head_dim=hidden // heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None, rope_theta=10000.0,
    )


def init_tiny_policy(out: str | Path, seed: int = 0, pretrained_embeddings: bool = False, **shape) -> Path:
    """A freshly initialised tiny policy and its tokenizer, saved as an HF directory; with
    `pretrained_embeddings` its token embeddings start from a pre-trained encoder (irpo.base.tiny_embeddings)."""
    out = Path(out)
    tokenizer = save_tiny_tokenizer(out)
    torch.manual_seed(seed)
    config = tiny_llama_config(tokenizer, **shape)
    model = LlamaForCausalLM(config)
    if pretrained_embeddings:
        from irpo.base.tiny_embeddings import pretrained_embeddings as embeddings

        with torch.no_grad():
            model.get_input_embeddings().weight.copy_(embeddings(tokenizer, config.hidden_size,
                                                                 config.initializer_range, seed))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    return out
