"""Build the tiny base policy: tokenizer + Llama (pre-trained embeddings) + SFT on the pre-training corpus."""
from __future__ import annotations

import shutil
from pathlib import Path

from cluster.layout import TrainerRole
from irpo.base.sft import sft_policy
from irpo.base.sft_corpus import AnswerStyle, sft_examples
from irpo.base.tiny_model import init_tiny_policy
from irpo.config import BasePolicyConfig
from judge.world import World


def build_tiny_base(world: World, out: str | Path, config: BasePolicyConfig, role: TrainerRole) -> Path:
    """Train the base policy into `out` (an HF directory). Ray must be initialised."""
    out = Path(out).resolve()  # Ray Train workers run in their own working directories
    init_dir = init_tiny_policy(out.parent / f".{out.name}.init", seed=config.sft.seed,
                                pretrained_embeddings=config.pretrained_embeddings, hidden=config.hidden_size,
                                layers=config.layers, heads=config.heads)
    style = AnswerStyle(config.format_error_rate, config.unrelated_share, config.distinct_categories,
                        config.no_fit_ad_share)
    examples = sft_examples(world, config.examples, config.sft.seed, config.auction_share, style, config.fresh_queries)
    sft_policy(init_dir, examples, config.sft, role, out)
    shutil.rmtree(init_dir, ignore_errors=True)
    return out
