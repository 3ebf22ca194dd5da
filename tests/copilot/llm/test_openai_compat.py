"""The OpenAI-compatible backend against a small SSE server on 127.0.0.1 (isolates the HTTP unit)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from copilot.config import Settings
from copilot.llm import ModelError, resolve
from copilot.llm.openai_compat import OpenAICompatLLM, endpoint_url, parse_sse


class ChatServer(ThreadingHTTPServer):
    """Answers /v1/chat/completions with scripted SSE pieces and records each request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.pieces: list[str] = ["Proximal", " policy", " optimisation", "."]
        self.status = 200
        self.error_event: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body,
                                     "auth": self.headers.get("Authorization")})
        if self.server.status != 200:
            payload = json.dumps({"error": {"message": "model is busy"}}).encode()
            self.send_response(self.server.status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        events: list[Any] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        events += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in self.server.pieces]
        if self.server.error_event:
            events.append(self.server.error_event)
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        for event in events:
            self.wfile.write(b": keep-alive comment\n\n")
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_streams_pieces_and_sends_an_openai_request(server: ChatServer) -> None:
    llm = resolve(f"openai:{server.url}/v1#tiny-model", Settings(api_key="sekret", n_ctx=2048))
    assert isinstance(llm, OpenAICompatLLM)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is PPO?"},
            {"role": "assistant", "content": "An algorithm."}, {"role": "user", "content": "Expand."}]
    pieces = list(llm.stream(chat, max_tokens=32, temperature=0.0, stop="\n\n"))
    assert pieces == server.pieces
    req = server.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer sekret"
    assert req["body"] == {"model": "tiny-model", "messages": chat, "stream": True,
                           "max_tokens": 32, "temperature": 0.0, "stop": ["\n\n"]}


def test_json_schema_becomes_response_format(server: ChatServer) -> None:
    server.pieces = ['{"algo":', ' "ppo"}']
    llm = OpenAICompatLLM(server.url)
    schema = {"type": "object", "properties": {"algo": {"type": "string"}}, "required": ["algo"]}
    text = llm.complete([{"role": "user", "content": "pick"}], json_schema=schema)
    assert json.loads(text) == {"algo": "ppo"}
    body = server.requests[-1]["body"]
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": schema, "strict": True}}
    assert server.requests[-1]["auth"] is None


def test_long_prompts_are_fitted_before_sending(server: ChatServer) -> None:
    llm = OpenAICompatLLM(server.url, n_ctx=1024, max_tokens=256)
    llm.complete([{"role": "user", "content": "word " * 20_000}])
    body = server.requests[-1]["body"]
    assert body["max_tokens"] == 256
    assert llm.count_messages(body["messages"]) + 256 <= 1024


def test_server_errors_become_one_sentence(server: ChatServer) -> None:
    llm = OpenAICompatLLM(server.url + "/v1/chat/completions", api_key="bad")
    server.status = 401
    with pytest.raises(ModelError, match=r"refused the API key \(HTTP 401\)"):
        llm.complete([{"role": "user", "content": "hi"}])
    server.status = 503
    with pytest.raises(ModelError, match=r"answered HTTP 503 \(model is busy\)\.$"):
        llm.complete([{"role": "user", "content": "hi"}])
    server.status = 200
    server.error_event = {"error": {"message": "out of memory"}}
    with pytest.raises(ModelError, match="reported an error: out of memory"):
        llm.complete([{"role": "user", "content": "hi"}])


def test_unreachable_server_is_one_sentence() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatLLM(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(ModelError, match=r"Could not reach .* check that it is running\.$"):
        llm.complete([{"role": "user", "content": "hi"}])


def test_endpoint_url_accepts_root_v1_or_full_endpoint() -> None:
    full = "http://h:8080/v1/chat/completions"
    assert endpoint_url("http://h:8080") == (full, "default")
    assert endpoint_url("http://h:8080/v1/") == (full, "default")
    assert endpoint_url(full + "#qwen") == (full, "qwen")
    with pytest.raises(ModelError, match="is not valid"):
        endpoint_url("localhost:8080")


def test_parse_sse_skips_comments_and_stops_at_done() -> None:
    lines = [b": ping\n", b"event: message\n", b'data: {"a": 1}\n', b"\n", b"data: [DONE]\n",
             b'data: {"a": 2}\n']
    assert list(parse_sse(iter(lines))) == [{"a": 1}]
    with pytest.raises(ModelError, match="not JSON"):
        list(parse_sse(iter([b"data: {oops\n"])))
