"""benchmarks/gpu_check.py runs the loops' own step functions; its CPU run keeps it from drifting."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_every_training_step_and_the_masked_generation_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = {r["check"]: r for r in json.loads(out.read_text())}
    assert set(results) == {"reward_model_step", "sft_step", "hf_generation", "dpo_step"}
    assert results["dpo_step"]["first_dpo_loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert results["hf_generation"]["answers"] == 8


def test_first_dpo_loss_is_log2_when_policy_and_reference_share_a_bf16_precision():
    """On GPUs DPO trains in bf16; the reference actor then takes its log-probs in bf16 too, so the first
    step compares the same numbers (here on CPU, where bf16 is emulated but rounds the same way)."""
    from transformers import LlamaForCausalLM

    from irpo.base.tiny_model import tiny_llama_config
    from irpo.base.tiny_tokenizer import build_tiny_tokenizer
    from irpo.dpo.step import PreferenceObjective, preference_logprobs, preference_loss

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpu_check import preference_records

    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(build_tiny_tokenizer(), hidden=32, layers=1, heads=2)).to(torch.bfloat16)
    batch = preference_records(records=4, prompt=12, completion=6, vocab=model.config.vocab_size)
    with torch.no_grad():
        ref = preference_logprobs(model, batch, pad_id=0)
    batch |= {"ref_chosen": ref.chosen.float().numpy(), "ref_rejected": [[x] for x in ref.rejected.float().tolist()]}
    stats = preference_loss(model, batch, 0, PreferenceObjective(beta=0.1, nll_weight=0.0, dpo_weight=1.0, prompts=4))
    assert stats.dpo.item() == pytest.approx(math.log(2), abs=1e-7)
