"""The LLM judge's retry and failure accounting, and the HTTP backend against a real local server."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_request

from auction import parse_answer, render_mention
from judge.chat_backends import OpenAIChatBackend
from judge.config import LLMJudgeConfig
from judge.llm_judge import LLMJudge
from judge.llm_prompts import click_messages


class ReplayBackend:
    """A ChatBackend that answers every chat with the next scripted reply (a protocol test double)."""

    def __init__(self, replies):
        self.replies, self.calls = list(replies), 0

    def complete(self, chats, seed, json_schemas=None):
        self.calls += 1
        self.schemas = json_schemas
        return [self.replies.pop(0) if self.replies else "no idea" for _ in chats]


def item(ad_ids=("Ad-2",)):
    request = make_request()
    text = "Shoes: " + " ".join(render_mention(request.by_id[a].ad) for a in ad_ids)
    return request, parse_answer(text, [c.ad for c in request.candidates])


def test_an_unparseable_reply_is_asked_again_and_then_accepted():
    good = json.dumps([{"ad_id": "Ad-2", "clicked": True}])
    judge = LLMJudge(ReplayBackend(["I would click it!", good]), LLMJudgeConfig(max_retries=2))
    (result,) = judge.judge([item()])
    assert result.ok and result.clicks == {"Ad-2": True} and result.attempts == 2


def test_a_judgement_that_keeps_failing_is_counted_not_raised():
    judge = LLMJudge(ReplayBackend(["nope"] * 10), LLMJudgeConfig(max_retries=1))
    results = judge.judge([item(), item()])
    assert [r.ok for r in results] == [False, False]
    assert all(r.attempts == 2 and "no JSON list" in r.error for r in results)
    assert sum(judge.failures.values()) == 2


def test_answers_without_ads_are_judged_without_a_call():
    backend = ReplayBackend([])
    (result,) = LLMJudge(backend, LLMJudgeConfig()).judge([item(ad_ids=())])
    assert result.ok and result.clicks == {} and backend.calls == 0


def test_the_click_prompt_lists_every_inserted_ad_and_the_rules():
    request, answer = item(("Ad-1", "Ad-2"))
    text = "\n".join(m["content"] for m in click_messages(request, answer))
    assert '"Ad-1"' in text and '"Ad-2"' in text and "Flooding" in text and request.query in text


class ChatServer:
    """A real HTTP server on 127.0.0.1 that answers /chat/completions from a script of behaviours."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                status, content, delay = server.script.pop(0) if server.script else (200, "[]", 0)
                time.sleep(delay)
                payload = {"choices": [{"message": {"role": "assistant", "content": content}}]}
                data = json.dumps(payload if status == 200 else {"error": content}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    servers = []

    def start(script):
        servers.append(ChatServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def backend_for(server, **overrides):
    config = LLMJudgeConfig(base_url=server.url, backoff_s=0.05, timeout_s=1.0, **overrides)
    return OpenAIChatBackend(config, "judge-model"), config


def test_http_backend_retries_server_errors_with_backoff_then_succeeds(chat_server):
    server = chat_server([(503, "busy", 0), (429, "slow down", 0), (200, "hello", 0)])
    backend, _ = backend_for(server, http_attempts=3)
    assert backend.complete([[{"role": "user", "content": "hi"}]], seed=5) == ["hello"]
    assert len(server.requests) == 3 and server.requests[0]["model"] == "judge-model"
    assert server.requests[0]["seed"] == 5 and server.requests[0]["temperature"] == 0.3


def test_http_backend_gives_up_after_timeouts_and_returns_none(chat_server):
    server = chat_server([(200, "late", 1.5), (200, "late", 1.5)])
    backend, _ = backend_for(server, http_attempts=2)
    assert backend.complete([[{"role": "user", "content": "hi"}]], seed=0) == [None]


def test_http_backend_does_not_retry_a_client_error(chat_server):
    server = chat_server([(400, "bad request", 0), (200, "unused", 0)])
    backend, _ = backend_for(server, http_attempts=3)
    assert backend.complete([[{"role": "user", "content": "hi"}]], seed=0) == [None]
    assert len(server.requests) == 1


def test_http_backend_keeps_at_most_concurrency_requests_in_flight(chat_server):
    server = chat_server([(200, "ok", 0.2)] * 6)
    backend, _ = backend_for(server, concurrency=2)
    start = time.perf_counter()
    assert backend.complete([[{"role": "user", "content": str(k)}] for k in range(6)], seed=0) == ["ok"] * 6
    assert time.perf_counter() - start >= 0.55  # 6 requests of 0.2 s, 2 at a time: 3 rounds


def test_the_llm_judge_over_http_end_to_end(chat_server):
    good = json.dumps([{"ad_id": "Ad-2", "clicked": True, "reason": "I run"}])
    server = chat_server([(200, "hmm", 0), (200, f"My answer: {good}", 0)])
    backend, config = backend_for(server)
    (result,) = LLMJudge(backend, config).judge([item()])
    assert result.ok and result.clicks == {"Ad-2": True}


def test_constrained_judging_sends_a_schema_that_accepts_exactly_the_valid_replies(chat_server):
    good = json.dumps([{"ad_id": "Ad-1", "clicked": False, "reason": "x"}, {"ad_id": "Ad-2", "clicked": True, "reason": "y"}])
    server = chat_server([(200, good, 0)])
    backend, config = backend_for(server)
    (result,) = LLMJudge(backend, config).judge([item(("Ad-1", "Ad-2"))])
    assert result.ok
    schema = server.requests[0]["response_format"]["json_schema"]["schema"]
    assert [e["properties"]["ad_id"]["const"] for e in schema["prefixItems"]] == ["Ad-1", "Ad-2"]
    assert schema["minItems"] == schema["maxItems"] == 2


def test_unconstrained_judging_sends_no_schema():
    backend = ReplayBackend([json.dumps([{"ad_id": "Ad-2", "clicked": False}])])
    LLMJudge(backend, LLMJudgeConfig(constrained_json=False)).judge([item()])
    assert backend.schemas is None


def test_query_writing_re_asks_until_the_user_llm_gives_enough_questions():
    from auction import UserProfile

    backend = ReplayBackend(['["just one?"]', 'Sure: ["How do I brew tea?", "Which running shoes?"]'])
    judge = LLMJudge(backend, LLMJudgeConfig(max_retries=1))
    assert judge.write_queries(UserProfile("u", "runner", ("tea",)), 2) == ["How do I brew tea?", "Which running shoes?"]


def test_query_writing_that_keeps_failing_raises_a_named_error():
    from auction import UserProfile
    from judge.judgement import JudgementError

    judge = LLMJudge(ReplayBackend(["no"] * 5), LLMJudgeConfig(max_retries=1))
    with pytest.raises(JudgementError, match="query generation for 'u' failed"):
        judge.write_queries(UserProfile("u"), 3)
