"""What the serving tests share: a tiny policy trained to give a known answer, `llm-auction serve` in its own
process group on 127.0.0.1, and the HTTP calls the tests make. Test modules import the `policy` fixture."""
import os
import signal
import subprocess
import time

import httpx
import pytest
import torch
from conftest import CLI, ROOT

from irpo.base.sft import tokenize_example
from irpo.base.sft_corpus import Example
from irpo.base.tiny_model import init_tiny_policy
from rollout.prompt import ad_llm_messages
from serving.ingress import to_request
from serving.schemas import AuctionBody

BODY = {"user": {"id": "u-7", "profile": {"basic_info": "young teacher lives in the city", "interests": ["tea"]}},
        "query": "how can i brew green tea",
        "ads": [{"ad_id": "Ad-3", "title": "green tea leaves", "bid": 40},
                {"ad_id": "Ad-4", "title": "glass tea kettle", "bid": 12.5},
                {"ad_id": "Ad-9", "title": "road bike helmet", "bid": 80}],
        "sampling": {"temperature": 0, "max_tokens": 40}}
CONTEXT = 256  # tokens the test server's model accepts (rollout.vllm.max_model_len)
ANSWER = "for tea try @green tea leaves@[Ad-3] . and @glass tea kettle@[Ad-4] ."


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    """A tiny policy trained in the test to give ANSWER to BODY: a real model with known output."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = init_tiny_policy(tmp_path_factory.mktemp("serve") / "policy", hidden=64, layers=2, heads=2)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    messages = ad_llm_messages(to_request("x", AuctionBody.model_validate(BODY)), "tiny")
    row = tokenize_example(Example(tuple(messages), ANSWER, "auction"), tokenizer)
    assert tokenizer.unk_token_id not in row["input_ids"]  # every word is the tiny language's
    ids, labels = torch.tensor([row["input_ids"]]), torch.tensor([row["labels"]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01
    model.save_pretrained(out)
    return out


class Server:
    """`llm-auction serve` in its own process group; `ledger` is a SQLite file or a postgresql:// URL."""

    def __init__(self, policy, ledger, port, *overrides, ray_config=None, env=None):
        self.url = f"http://127.0.0.1:{port}"
        extra = ["--ray-config", str(ray_config)] if ray_config else []
        self.process = subprocess.Popen(
            [CLI, "serve", "--policy", str(policy), "--port", str(port), "--ledger", str(ledger), *extra,
             "rollout.vllm.enforce_eager=true", f"rollout.vllm.max_model_len={CONTEXT}", *overrides],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**os.environ, **(env or {})})
        deadline = time.time() + 300
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.process.stderr.read()[-3000:]
            assert time.time() < deadline, "server never became healthy"
            time.sleep(1)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


OPERATOR_KEY = "operator-secret"


def post(server, path, body):
    return httpx.post(f"{server.url}{path}", json=body, timeout=120)


def read_record(server, auction_id, credential=None):
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return httpx.get(f"{server.url}/v1/auctions/{auction_id}", headers=headers, timeout=30)
