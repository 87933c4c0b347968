"""Protocol test: the OpenAI-compatible backend against a minimal chat-completions server in this process.

No real LLM server installs from the registries here without compiling (llama-cpp-python ships no wheel on
PyPI), so this server implements just the wire format: POST /v1/chat/completions -> choices[0].message.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from embedder.synth.backends import BackendError, OpenAIBackend
from embedder.synth.generate import SynthConfig, synthesize


class ChatServer:
    """Answers chat completions with `reply(body)`; `statuses` are sent first (e.g. [429]) before succeeding."""

    def __init__(self, reply=None, statuses=()):
        self.requests: list[tuple[dict, dict]] = []  # (headers, body)
        self.statuses = list(statuses)
        self.reply = reply or (lambda body: "pong")
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append((dict(self.headers), body))
                    status = server.statuses.pop(0) if server.statuses else 200
                if self.path != "/v1/chat/completions":
                    status = 404
                if status != 200:
                    payload = json.dumps({"error": {"message": "slow down" if status == 429 else "no"}}).encode()
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                else:
                    answer = {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": server.reply(body)},
                            }
                        ],
                    }
                    payload = json.dumps(answer).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: a free port
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs) -> ChatServer:
        servers.append(ChatServer(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _backend(server, **kwargs) -> OpenAIBackend:
    return OpenAIBackend(server.url, "smollm2", "sk-test", backoff_s=0.01, max_backoff_s=0.05, **kwargs)


def test_protocol_request_and_answer(serve):
    server = serve()
    answer = _backend(server).complete([{"role": "user", "content": "ping"}], seed=7, temperature=0.5, max_tokens=9)
    assert (answer.text, answer.finish_reason) == ("pong", "stop")
    headers, body = server.requests[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "ping"}],
        "temperature": 0.5,
        "max_tokens": 9,
        "seed": 7,
    }


def test_protocol_429_then_success_is_retried(serve):
    server = serve(statuses=[429, 503])
    backend = _backend(server)
    assert backend.complete([{"role": "user", "content": "x"}], seed=1, temperature=0, max_tokens=4).text == "pong"
    assert len(server.requests) == 3 and backend.retries == 2


def test_protocol_gives_up_after_max_retries_and_fails_fast_on_auth(serve):
    server = serve(statuses=[500] * 10)
    with pytest.raises(BackendError, match=r"failed 3 times.*resume"):
        _backend(server, max_retries=2).complete([], seed=1, temperature=0, max_tokens=4)
    server = serve(statuses=[401])
    with pytest.raises(BackendError, match="api-key-env"):
        _backend(server).complete([], seed=1, temperature=0, max_tokens=4)
    assert len(server.requests) == 1


def test_protocol_connection_refused_is_retried_then_reported(serve):
    server = serve()
    url = server.url
    server.close()
    backend = OpenAIBackend(url, "m", backoff_s=0.01, max_retries=1, timeout_s=2)
    with pytest.raises(BackendError, match="ConnectError"):
        backend.complete([], seed=1, temperature=0, max_tokens=4)


def test_protocol_synth_end_to_end_over_http(serve, tmp_path):
    def reply(body):
        prompt = body["messages"][-1]["content"]
        if "JSON list" in prompt:
            return '```json\n["Given a question about train tickets, retrieve passages that answer it."]\n```'
        seed = body["seed"]
        return json.dumps(
            {
                "user_query": f"ticket question {seed}",
                "positive_document": f"Tickets answer {seed}.",
                "hard_negative_document": f"Bus timetable {seed}.",
            }
        )

    server = serve(reply=reply, statuses=[429])
    config = SynthConfig(
        family="short-long",
        languages=["en"],
        out=tmp_path / "o.jsonl",
        tasks=1,
        per_task=3,
        check_language=False,
        quiet=True,
    )
    summary = synthesize(config, _backend(server, concurrency=3))
    assert summary.kept == 3 and not summary.dropped
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert {r["task"] for r in rows} == {"Given a question about train tickets, retrieve passages that answer it."}
    assert {"query_type", "query_length", "clarity", "num_words", "difficulty"} <= set(rows[0]["meta"])


def test_protocol_cli_openai_backend_reads_the_key_from_the_named_variable(serve, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from babelsearch.cli import app

    def reply(body):
        if "JSON list" in body["messages"][-1]["content"]:
            return '["Given a question title, retrieve titles asking the same thing."]'
        return json.dumps(
            {
                "input": "How to reverse a list?",
                "positive_document": "Reversing the order of a list",
                "hard_negative_document": "How to sort a list?",
            }
        )

    server = serve(reply=reply)
    monkeypatch.setenv("MY_SYNTH_KEY", "sk-from-env")
    out = tmp_path / "cli.jsonl"
    args = [
        "synth",
        "--backend",
        "openai",
        "--base-url",
        server.url,
        "--model",
        "m",
        "--api-key-env",
        "MY_SYNTH_KEY",
        "--family",
        "short-short",
        "--languages",
        "en",
        "--tasks",
        "1",
        "--per-task",
        "1",
        "--out",
        str(out),
        "--no-language-check",
        "--quiet",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "kept 1 new" in result.output and "dropped 0" in result.output
    assert server.requests[0][0]["Authorization"] == "Bearer sk-from-env"
    assert json.loads(out.read_text())["family"] == "short-short"
