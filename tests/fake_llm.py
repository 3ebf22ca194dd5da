"""The one stand-in chat model of the test suite: ``from fake_llm import FakeLLM``.

It only isolates a unit from the real model; the real backends have their own tests
(``tests/copilot/llm/``: llama.cpp, transformers, and an OpenAI-compatible server).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterator

from copilot.llm.base import LLM

Answer = str | dict | list | Callable[[list[dict], int], "str | list[str]"]


class FakeLLM(LLM):
    """Says scripted answers, in turn (the last one repeats), and records every call.

    Args:
        answers: each a string, a dict (said as its JSON), a list of the pieces to stream, or
            ``f(messages, max_tokens)`` returning either; with no answer it says its name.
        name, n_ctx: as a real backend's.
        tokens: ``"chars"`` (a token per 4 characters) or ``"words"`` (a token per word).
        split: ``"whole"`` streams a string answer as one piece, ``"words"`` word by word.
        delay: seconds before each piece; load_s: seconds that :meth:`load` takes.
        record: what ``seen`` holds: ``"prompts"`` (the messages of each call), ``"calls"``
            (``(messages, max_tokens)`` of each call) or ``"last"`` (the last messages, or []).

    Records ``prompts``, ``schemas`` and ``budgets`` (max_tokens) per call, ``loads``, ``asked``.
    """

    def __init__(self, *answers: Answer, name: str = "fake", n_ctx: int = 4096, tokens: str = "chars",
                 split: str = "whole", delay: float = 0.0, load_s: float = 0.0, record: str = "prompts"):
        if tokens not in ("chars", "words") or split not in ("whole", "words") or \
                record not in ("prompts", "calls", "last"):
            raise ValueError(f"FakeLLM got tokens={tokens!r}, split={split!r}, record={record!r}.")
        self.answers = list(answers) or [name]
        self.name, self.n_ctx, self.tokens, self.split = name, n_ctx, tokens, split
        self.delay, self.load_s, self.record = delay, load_s, record
        self.prompts: list[list[dict]] = []
        self.schemas: list[dict | None] = []
        self.budgets: list[int] = []
        self.loads = 0

    @property
    def asked(self) -> int:
        return len(self.prompts)

    @property
    def seen(self) -> Any:
        if self.record == "calls":
            return list(zip(self.prompts, self.budgets))
        if self.record == "last":
            return self.prompts[-1] if self.prompts else []
        return self.prompts

    def load(self) -> None:
        time.sleep(self.load_s)
        self.loads += 1

    def count_tokens(self, text: str) -> int:
        if self.tokens == "words":
            return len(text.split())
        return max(1, len(text) // 4) if text else 0

    def _pieces(self, messages: list[dict], max_tokens: int) -> list[str]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            answer = answer(messages, max_tokens)
        if isinstance(answer, dict):
            answer = json.dumps(answer)
        if isinstance(answer, list):
            return [str(piece) for piece in answer]
        if self.split == "words":
            words = answer.split(" ")
            return words[:1] + [" " + w for w in words[1:]]
        return [answer]

    def _stream(self, messages, *, max_tokens, temperature, stop, json_schema) -> Iterator[str]:
        self.prompts.append(messages)
        self.schemas.append(json_schema)
        self.budgets.append(max_tokens)
        for piece in self._pieces(messages, max_tokens):
            time.sleep(self.delay)
            yield piece
