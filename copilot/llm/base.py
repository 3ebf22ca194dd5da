"""The one interface every language-model backend implements, plus context budgeting.

A backend subclasses :class:`LLM` (one level) and supplies ``count_tokens`` and
``_stream``. :meth:`LLM.stream` is the public entry point: it validates the chat
messages, trims them with :func:`fit_messages` so that prompt plus answer always fit the
context window, and only then hands them to the backend, so callers never see a
context-overflow error. Callers that want to choose *what* is trimmed (for example whole
retrieved sources rather than the tail of the longest message) use
:func:`prompt_budget`, :func:`fit_sources` and :func:`truncate_to_tokens` first.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, Iterable, Iterator, Mapping, Sequence

Message = dict[str, str]
ROLES = ("system", "user", "assistant")
TRUNCATION_MARK = "\n[...]"
# Chat templates wrap each message in a few special tokens; backends without an exact
# template count add this many per message, plus the assistant header.
MESSAGE_OVERHEAD = 8
REPLY_OVERHEAD = 4


class ModelError(RuntimeError):
    """A model could not be loaded or used; the message is one sentence naming the fix."""


def default_threads(threads: int) -> int:
    """``threads`` if positive, else every core."""
    return threads if threads > 0 else (os.cpu_count() or 1)


def check_messages(messages: Iterable[Mapping[str, Any]]) -> list[Message]:
    """Copy chat messages into plain dicts, refusing bad roles or non-text contents."""
    out: list[Message] = []
    for i, msg in enumerate(messages):
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ModelError(f"Chat message {i} has role {role!r} and content of type "
                             f"{type(content).__name__}; accepted roles are {', '.join(ROLES)} "
                             "with text content.")
        out.append({"role": role, "content": content})
    if not out:
        raise ModelError("No chat messages were given; pass at least one user message.")
    return out


class LLM(ABC):
    """A chat model: token counting, streamed answers and JSON-constrained answers.

    ``constrained_json`` says whether ``json_schema`` is enforced while decoding (a
    grammar or the server's structured output); when False the schema is only put into
    the prompt and callers must validate the answer.
    """

    name: str = "llm"
    n_ctx: int = 4096
    constrained_json: bool = True
    default_max_tokens: int = 512
    default_temperature: float = 0.1

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs for this model (no special tokens added)."""

    def count_messages(self, messages: Sequence[Message]) -> int:
        """Prompt tokens for ``messages`` including chat-template overhead and reply header."""
        return sum(self.count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages) \
            + REPLY_OVERHEAD

    def prime(self, prefix: Sequence[Message]) -> None:
        """Load the model and get ready for chats that start with ``prefix`` (a backend that
        keeps its prompt state evaluates the prefix now, so answers skip it)."""
        self.count_messages(list(prefix))

    def prepare(self, messages: list[Message], json_schema: dict | None) -> list[Message]:
        """Backend hook run before budgeting (e.g. to put a schema into the prompt)."""
        return messages

    @abstractmethod
    def _stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
                stop: list[str], json_schema: dict | None) -> Iterator[str]:
        """Yield answer text pieces; ``messages`` already fit with ``max_tokens``."""

    def stream(self, messages: Iterable[Mapping[str, Any]], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: str | Sequence[str] | None = None,
               json_schema: dict | None = None) -> Iterator[str]:
        """Stream the answer to a chat (history included) as text pieces."""
        msgs = check_messages(messages)
        want = self.default_max_tokens if max_tokens is None else int(max_tokens)
        temp = self.default_temperature if temperature is None else float(temperature)
        if want < 1:
            raise ModelError(f"max_tokens is {want}; it must be at least 1.")
        msgs, answer_tokens = fit_messages(self, self.prepare(msgs, json_schema), want)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        yield from self._stream(msgs, max_tokens=answer_tokens, temperature=temp, stop=stops,
                                json_schema=json_schema)

    def complete(self, messages: Iterable[Mapping[str, Any]], **kwargs: Any) -> str:
        """The whole answer as one string; same arguments as :meth:`stream`."""
        return "".join(self.stream(messages, **kwargs))


def cut_at_stop(pieces: Iterable[str], stops: Sequence[str]) -> Iterator[str]:
    """Re-yield streamed ``pieces`` up to (not including) the first of ``stops``.

    Text that could be the start of a stop string is held back until it is decided,
    so a stop split across pieces is still caught.
    """
    stops = [s for s in stops if s]
    if not stops:
        yield from pieces
        return
    hold = max(len(s) for s in stops) - 1
    buf = ""
    for piece in pieces:
        buf += piece
        hits = [i for i in (buf.find(s) for s in stops) if i >= 0]
        if hits:
            if min(hits):
                yield buf[:min(hits)]
            return
        if len(buf) > hold:
            cut = len(buf) - hold
            yield buf[:cut]
            buf = buf[cut:]
    if buf:
        yield buf


def answer_budget(n_ctx: int, max_tokens: int) -> int:
    """Tokens reserved for the answer: ``max_tokens`` but never more than half the window."""
    return max(1, min(max_tokens, n_ctx // 2))


def prompt_budget(llm: LLM, messages: Sequence[Message], max_tokens: int) -> int:
    """Tokens still free for extra prompt text (e.g. sources) after ``messages`` and the answer.

    This is ``n_ctx - answer - prompt``; it can be negative when ``messages`` alone are too long.
    """
    return llm.n_ctx - answer_budget(llm.n_ctx, max_tokens) - llm.count_messages(messages)


def truncate_to_tokens(llm: LLM, text: str, max_tokens: int, *, mark: str = TRUNCATION_MARK) -> str:
    """The longest prefix of ``text`` (plus ``mark`` if cut) costing at most ``max_tokens``."""
    if llm.count_tokens(text) <= max_tokens:
        return text
    room = max_tokens - (llm.count_tokens(mark) if mark else 0)
    if room <= 0:
        return ""
    lo, hi = 0, len(text)  # invariant: text[:lo] fits, text[:hi + 1] may not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if llm.count_tokens(text[:mid]) <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + mark if lo else ""


def fit_sources(llm: LLM, sources: Sequence[str], budget: int, *, separator: str = "\n\n",
                min_tail: int = 32) -> list[str]:
    """Keep sources in order while they fit ``budget`` tokens; cut the first that overflows.

    A cut source is kept only if at least ``min_tail`` tokens of it fit; later sources are
    dropped. Each source is charged its tokens plus the separator's.
    """
    sep_cost = llm.count_tokens(separator) if separator else 0
    kept: list[str] = []
    left = budget
    for src in sources:
        cost = llm.count_tokens(src) + sep_cost
        if cost <= left:
            kept.append(src)
            left -= cost
            continue
        if left - sep_cost >= min_tail:
            kept.append(truncate_to_tokens(llm, src, left - sep_cost))
        break
    return kept


def fit_messages(llm: LLM, messages: list[Message], max_tokens: int) -> tuple[list[Message], int]:
    """Messages and an answer cap whose sum fits ``llm.n_ctx``; never raises on long input.

    The answer keeps :func:`answer_budget` tokens. If the prompt is still too long, the
    oldest history (everything between a leading system message and the last message)
    is dropped first, then the longest remaining message is cut at its end, repeatedly.
    """
    answer = answer_budget(llm.n_ctx, max_tokens)
    limit = llm.n_ctx - answer
    msgs = list(messages)
    if llm.count_messages(msgs) <= limit:
        return msgs, answer
    first = 1 if msgs[0]["role"] == "system" and len(msgs) > 1 else 0
    while len(msgs) - first > 1 and llm.count_messages(msgs) > limit:
        del msgs[first]
    for _ in range(4 * len(msgs) + 8):
        excess = llm.count_messages(msgs) - limit
        if excess <= 0:
            return msgs, answer
        idx = max(range(len(msgs)), key=lambda i: len(msgs[i]["content"]))
        content = msgs[idx]["content"]
        if not content:
            break
        keep = max(0, llm.count_tokens(content) - excess - 2)
        msgs[idx] = {**msgs[idx], "content": truncate_to_tokens(llm, content, keep)}
    spare = llm.n_ctx - llm.count_messages(msgs)
    if spare < 1:
        raise ModelError(f"The context window of {llm.n_ctx} tokens cannot hold even the empty "
                         "chat template; use a larger n_ctx.")
    return msgs, min(answer, spare)
