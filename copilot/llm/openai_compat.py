"""Backend for any OpenAI-compatible ``/v1/chat/completions`` server (llama.cpp server,
vLLM, Ollama, LM Studio, ...), streamed over server-sent events with the standard library.

``openai:URL`` accepts the server root (``http://127.0.0.1:8080``), the ``/v1`` base or
the full endpoint; a ``#name`` fragment picks the model name sent in requests.
Token counts are an upper-bound estimate (no tokenizer is available locally), which
keeps context budgeting on the safe side.
"""

from __future__ import annotations

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

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)

    def request_body(self, messages: list[Message], *, max_tokens: int, temperature: float,
                     stop: list[str], json_schema: dict | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "max_tokens": max_tokens, "temperature": temperature}
        if stop:
            body["stop"] = stop
        if json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": json_schema, "strict": True}}
        return body

    def _stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
                stop: list[str], json_schema: dict | None) -> Iterator[str]:
        body = self.request_body(messages, max_tokens=max_tokens, temperature=temperature,
                                 stop=stop, json_schema=json_schema)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                for event in parse_sse(resp):
                    if "error" in event:
                        raise ModelError(f"The server at {self.url} reported an error: "
                                         f"{_error_text(event['error'])}.")
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            yield piece
        except urllib.error.HTTPError as exc:
            raise ModelError(_http_error(self.url, exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelError(f"Could not reach the OpenAI-compatible server at {self.url} "
                             f"({reason}); check that it is running.") from None


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _http_error(url: str, exc: urllib.error.HTTPError) -> str:
    if exc.code in (401, 403):
        return f"The server at {url} refused the API key (HTTP {exc.code}); set api_key or COPILOT_API_KEY."
    try:
        detail = _error_text(json.loads(exc.read().decode("utf-8")).get("error", ""))
    except (ValueError, AttributeError, OSError):
        detail = exc.reason
    return f"The server at {url} answered HTTP {exc.code} ({detail})."
