"""Backend for any OpenAI-compatible ``/v1/chat/completions`` server (llama.cpp server,
vLLM, Ollama, LM Studio, ...), streamed over server-sent events with the standard library.

``openai:URL`` accepts the server root (``http://127.0.0.1:8080``), the ``/v1`` base or
the full endpoint; a ``#name`` fragment picks the model name sent in requests.
Token counts are an upper-bound estimate (no tokenizer is available locally), which
keeps context budgeting on the safe side. JSON-constrained answers use OpenAI's
``json_schema`` response format, or ``json_object`` with the schema for a server that only
knows that (``python -m llama_cpp.server``). An answer whose stream ends without a
``finish_reason`` (the server died or the connection dropped) raises :class:`ModelError`
after the pieces already streamed, so it is never taken for a whole answer.

Many users share one model this way: run ``python -m llama_cpp.server --model FILE.gguf
--host 0.0.0.0 --port 8000 --n_ctx 4096`` once and give every app
``COPILOT_MODEL=openai:http://HOST:8000/v1``.
"""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.request
from typing import Any, Iterator
from urllib.parse import urlsplit

from copilot.llm.base import LLM, Message, ModelError

ENDPOINT = "/chat/completions"
BYTES_PER_TOKEN = 3.0  # most BPE vocabularies average 3.5-4.5 bytes per token on text and code


def endpoint_url(url: str) -> tuple[str, str]:
    """The chat-completions endpoint and model name for an ``openai:`` URL."""
    url, _, model = url.partition("#")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelError(f"OpenAI-compatible URL {url!r} is not valid; expected something like "
                         "openai:http://127.0.0.1:8080/v1.")
    base = url.rstrip("/")
    if not base.endswith(ENDPOINT):
        base = base if base.endswith("/v1") else base + "/v1"
        base += ENDPOINT
    return base, model or "default"


def parse_sse(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """JSON payloads of ``data:`` events, until ``[DONE]``; other fields are skipped."""
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            yield json.loads(data)
        except json.JSONDecodeError:
            raise ModelError(f"The server sent an event that is not JSON: {data[:80]!r}.") from None


class OpenAICompatLLM(LLM):
    """A chat model served over HTTP in the OpenAI chat-completions format."""

    constrained_json = True

    def __init__(self, url: str, *, api_key: str = "", n_ctx: int = 4096, max_tokens: int = 512,
                 temperature: float = 0.1, timeout: float = 600.0) -> None:
        self.url, self.model = endpoint_url(url)
        self.name = f"openai:{url}"
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.default_max_tokens = max_tokens
        self.default_temperature = temperature
        self.timeout = timeout
        self.schema_style = "json_schema"  # becomes "json_object" for a server that only knows that

    def count_tokens(self, text: str) -> int:
        """Bytes / 3, with every digit a token of its own (Qwen and Llama 3 split numbers into digits)."""
        digits = sum(ch.isdigit() for ch in text)
        return digits + math.ceil((len(text.encode("utf-8")) - digits) / BYTES_PER_TOKEN)

    def request_body(self, messages: list[Message], *, max_tokens: int, temperature: float,
                     stop: list[str], json_schema: dict | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "max_tokens": max_tokens, "temperature": temperature}
        if stop:
            body["stop"] = stop
        if json_schema is not None and self.schema_style == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": json_schema, "strict": True}}
        elif json_schema is not None:  # llama-cpp-python's server: JSON mode with a schema
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        return body

    def _open(self, body: dict[str, Any]):
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"),
                                     headers=headers, method="POST")
        return urllib.request.urlopen(req, timeout=self.timeout)

    def _connect(self, messages: list[Message], **kwargs: Any):
        """The streaming response; a server that refuses OpenAI's ``json_schema`` response format
        is asked again (once, before any token) with ``json_object`` plus the schema."""
        try:
            return self._open(self.request_body(messages, **kwargs))
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            if not (kwargs["json_schema"] is not None and self.schema_style == "json_schema"
                    and "response_format" in detail):
                raise ModelError(_http_error(self.url, exc.code, detail)) from None
        self.schema_style = "json_object"
        try:
            return self._open(self.request_body(messages, **kwargs))
        except urllib.error.HTTPError as exc:
            raise ModelError(_http_error(self.url, exc.code, _detail(exc))) from None

    def _stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
                stop: list[str], json_schema: dict | None) -> Iterator[str]:
        finished, started = False, False
        try:
            with self._connect(messages, max_tokens=max_tokens, temperature=temperature, stop=stop,
                               json_schema=json_schema) as resp:
                started = True
                for event in parse_sse(resp):
                    if "error" in event:
                        raise ModelError(f"The server at {self.url} reported an error: "
                                         f"{_first_line(_error_text(event['error']))}.")
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        finished = finished or bool(choice.get("finish_reason"))
                        if piece:
                            yield piece
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if started:
                raise ModelError(_went_away(self.url)) from None
            reason = getattr(exc, "reason", exc)
            raise ModelError(f"Could not reach the OpenAI-compatible server at {self.url} "
                             f"({reason}); check that it is running.") from None
        if not finished:  # the stream ended without saying the answer was complete
            raise ModelError(_went_away(self.url))


def _went_away(url: str) -> str:
    return (f"The server at {url} stopped answering before the answer was finished, so the answer is "
            "incomplete; ask again once the server is running.")


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line[:200].rstrip(".")


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _detail(exc: urllib.error.HTTPError) -> str:
    """The server's error message (JSON ``error`` or the body), or the HTTP reason."""
    try:
        body = exc.read().decode("utf-8", errors="replace")
    except OSError:
        return str(exc.reason)
    try:
        return _error_text(json.loads(body).get("error", "")) or str(exc.reason)
    except (ValueError, AttributeError):
        return body or str(exc.reason)


def _http_error(url: str, code: int, detail: str) -> str:
    if code in (401, 403):
        return f"The server at {url} refused the API key (HTTP {code}); set api_key or COPILOT_API_KEY."
    return f"The server at {url} answered HTTP {code} ({_first_line(detail)})."
