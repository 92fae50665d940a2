"""A Hugging Face transformers engine behind the Engine interface, for machines without vLLM.

Log-probs are the raw model's (before temperature, top-k and top-p), as vLLM returns them by default,
so the two engines' numbers are comparable; a completion that ends on EOS keeps the EOS token.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rollout.config import SamplingConfig
from rollout.engine import RuleState, Sample, TokenRules

log = logging.getLogger(__name__)


class HFEngine:
    def __init__(self, model_dir: str | Path, dtype: str = "float32", device: str = "cpu"):
        start = time.perf_counter()
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(device).eval()
        self.device = device
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 4096))
        log.info("HF engine for %s ready in %.1fs", model_dir, time.perf_counter() - start)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    @torch.inference_mode()
    def generate(
        self, prompts: list[str], n: int, sampling: SamplingConfig, seed: int | Sequence[int],
        json_schemas: list[dict] | None = None, token_rules: list[TokenRules] | None = None, logprobs: bool = True,
    ) -> list[list[Sample]]:
        """All prompts in one left-padded batch; an int seed fixes the whole batch's samples. With one
        seed per prompt each prompt is generated alone (HF draws one random stream per call).
        Log-probs come with the logits generate returns anyway, so `logprobs` changes nothing here."""
        if json_schemas and any(json_schemas):
            raise ValueError("the HF engine cannot constrain output to a JSON schema; use rollout.engine=vllm")
        if isinstance(seed, Sequence):
            return [self.generate([prompt], n, sampling, own, token_rules=[token_rules[i]] if token_rules else None,
                                  logprobs=logprobs)[0]
                    for i, (prompt, own) in enumerate(zip(prompts, seed))]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        torch.manual_seed(seed)
        greedy = sampling.temperature == 0
        if greedy:  # generate refuses n > 1 greedy sequences: repeat each prompt n times instead (prompt-major)
            batch = {key: value.repeat_interleave(n, dim=0) for key, value in batch.items()}
        out = self.model.generate(
            **batch, do_sample=not greedy, num_return_sequences=1 if greedy else n, max_new_tokens=sampling.max_tokens,
            temperature=None if greedy else sampling.temperature, top_p=None if greedy else sampling.top_p,
            top_k=None if greedy or sampling.top_k < 0 else sampling.top_k,
            output_logits=True, return_dict_in_generate=True,
            logits_processor=[RulesPerRow(token_rules, n, batch["input_ids"].shape[1])] if token_rules else None,
            pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.tokenizer.eos_token_id,
        )
        completions = out.sequences[:, batch["input_ids"].shape[1]:]
        logprobs = torch.stack(out.logits, dim=1).float().log_softmax(-1)
        chosen = logprobs.gather(-1, completions.unsqueeze(-1)).squeeze(-1)
        # rows are prompt-major: prompt i's n samples follow each other (a greedy batch repeats each prompt n times)
        prompt_rows = [row if greedy else row // n for row in range(completions.shape[0])]
        prompts_seen = [tuple(ids[mask.bool()].tolist())
                        for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
        samples = [self._sample(completions[row], chosen[row], prompts_seen[prompt_rows[row]])
                   for row in range(completions.shape[0])]
        return [samples[i * n : (i + 1) * n] for i in range(len(prompts))]

    def close(self) -> None:
        """Nothing to release early: the model is freed with the engine."""

    def _sample(self, token_ids: torch.Tensor, logprobs: torch.Tensor, prompt_ids: tuple[int, ...]) -> Sample:
        ids = token_ids.tolist()
        eos = self.tokenizer.eos_token_id
        length = ids.index(eos) + 1 if eos in ids else len(ids)
        text = self.tokenizer.decode(ids[:length], skip_special_tokens=True)
        return Sample(text, tuple(ids[:length]), tuple(logprobs[:length].tolist()), prompt_ids)


class RulesPerRow:
    """A logits processor applying each prompt's TokenRules (rows are prompts x n samples, prompt-major)."""

    def __init__(self, rules: list[TokenRules], n: int, prompt_width: int):
        self.states = [RuleState(rules[row // n]) for row in range(len(rules) * n)]
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] > self.prompt_width:  # fold in the token sampled at the previous step
            for state, token in zip(self.states, input_ids[:, -1].tolist()):
                state.advance((token,))
        for row, state in enumerate(self.states):
            banned = state.banned_now()
            if banned:
                scores[row, banned] = float("-inf")
            if (token := state.forced()) is not None:
                scores[row] = float("-inf")
                scores[row, token] = 0.0
        return scores
