"""Pure formatting for the web UI: chat messages, sources, search results, status badges.

Nothing here imports gradio, so these functions are unit-tested on their own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

SNIPPET_CHARS = 700


@dataclass
class Turn:
    """One question and its answer in a chat session."""

    question: str
    answer: str = ""
    sources: list[Any] = field(default_factory=list)  # copilot.chat.Source
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    note: str = ""  # "stopped", or an error sentence
    error: bool = False
    support: list[Any] = field(default_factory=list)  # copilot.grounding.Support per shown sentence
    removed: int = 0  # the model's sentences that no source supported


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` cut at a line or word boundary near ``limit`` characters."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip() + " …"


def close_fences(text: str) -> str:
    """Close an unterminated ``` block so a cut snippet does not swallow what follows."""
    return text + "\n```" if text.count("```") % 2 else text


def source_message(source: Any) -> dict[str, Any]:
    """A collapsed chat message for one cited source: its number, title and path, then the text."""
    where = "" if source.path == source.title else f" · {source.path}"
    title = f"[{source.n}] {source.title}{where}"
    text = getattr(source, "text", "") or ""
    if text.startswith(f"[{source.n}] "):  # the prompt's "[n] title (path)" header line
        text = text.split("\n", 1)[1] if "\n" in text else ""
    body = close_fences(snippet(text or "(no text)"))
    return {"role": "assistant", "content": body, "metadata": {"title": title, "status": "done"}}


def support_line(turn: Turn) -> str:
    """How the answer was checked: sentences shown with their sources, model sentences removed."""
    if not turn.support:
        return ""
    text = f"{len(turn.support)} sentence{'s' * (len(turn.support) != 1)} checked against the sources"
    if turn.removed:
        text += f"; {turn.removed} unsupported sentence{'s' * (turn.removed != 1)} of the model removed"
    return text


def footer(turn: Turn) -> str:
    t = turn.timings
    if not t:
        return ""
    parts = [support_line(turn)] if turn.support else []
    parts += [turn.model] if turn.model else []
    if "first_token_s" in t:
        parts.append(f"first token {t['first_token_s']:.1f} s")
    if "total_s" in t:
        parts.append(f"total {t['total_s']:.1f} s")
    return "\n\n<sub>" + " · ".join(html.escape(p) for p in parts) + "</sub>"


def turn_messages(turn: Turn, streaming: bool = False) -> list[dict[str, Any]]:
    """The chat messages for one turn: question, answer (+ note), then one per cited source."""
    out: list[dict[str, Any]] = [{"role": "user", "content": turn.question}]
    body = turn.answer
    if turn.note:
        mark = "⚠ " if turn.error else ""
        body = (body + "\n\n" if body else "") + f"*{mark}{turn.note}*"
    if streaming and not body:
        body = "…"
    out.append({"role": "assistant", "content": close_fences(body) + ("" if streaming else footer(turn))})
    if not streaming:
        out.extend(source_message(s) for s in turn.sources)
    return out


def chat_messages(turns: Iterable[Turn], pending: Turn | None = None) -> list[dict[str, Any]]:
    """Chatbot messages for finished ``turns`` plus the turn being streamed, if any."""
    out = [m for turn in turns for m in turn_messages(turn)]
    if pending is not None:
        out.extend(turn_messages(pending, streaming=True))
    return out


def history_for_model(turns: Iterable[Turn]) -> list[dict[str, str]]:
    """Plain role/content history for the model: answered turns only, no sources or notes."""
    out: list[dict[str, str]] = []
    for turn in turns:
        if turn.answer and not turn.error:
            out.append({"role": "user", "content": turn.question})
            out.append({"role": "assistant", "content": turn.answer})
    return out


def status_html(text: str, kind: str = "info") -> str:
    """A one-line status badge; ``kind`` is info, ok, busy or error."""
    icon = {"ok": "●", "busy": "◌", "error": "✖", "info": "ℹ"}.get(kind, "ℹ")
    return f'<div class="cp-status cp-{kind}"><span>{icon}</span> {html.escape(text)}</div>'


def progress_html(step: int, total: int, label: str = "") -> str:
    """A progress bar with ``step / total`` and the percentage."""
    frac = 0.0 if total <= 0 else max(0.0, min(1.0, step / total))
    text = f"{label + ' · ' if label else ''}{step:,} / {total:,} steps ({frac:.0%})"
    return (f'<div class="cp-progress"><div class="cp-bar" style="width:{frac * 100:.1f}%"></div>'
            f'<span>{html.escape(text)}</span></div>')


def human_size(n: int) -> str:
    """``491 MB``, ``1.12 GB``; ``-`` for an unknown size."""
    if n <= 0:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e3:.0f} KB" if n >= 1e3 else f"{n} B"


def search_results_html(query: str, hits: Sequence[Any]) -> str:
    """Ranked search results: rank, title, kind, path, score and a snippet of each."""
    if not query.strip():
        return '<p class="cp-muted">Type a query to search the docs, tutorials, papers and API.</p>'
    if not hits:
        return f'<p class="cp-muted">No results for “{html.escape(query)}”.</p>'
    rows = []
    for rank, hit in enumerate(hits, 1):
        text = html.escape(snippet(" ".join(hit.text.split()), 320))
        rows.append(
            f'<div class="cp-hit"><div class="cp-hit-head"><b>{rank}. {html.escape(hit.title)}</b>'
            f'<span class="cp-kind">{html.escape(hit.kind)}</span>'
            f'<span class="cp-score">score {hit.score:.4f}</span></div>'
            f'<div class="cp-path">{html.escape(hit.path)}</div><div class="cp-snip">{text}</div></div>')
    return f'<div class="cp-hits">{"".join(rows)}</div>'


def result_label(rank: int, hit: Any) -> str:
    """The label of a search result in the "open a page" picker."""
    return f"{rank}. {hit.title} · {hit.path}"
