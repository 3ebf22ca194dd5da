"""The Docs tab: search the index without the model, filter by kind, open a full page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from copilot.config import REPO_ROOT
from copilot.ui.render import close_fences, result_label, search_results_html, status_html
from copilot.ui.services import Services, one_sentence

MAX_PAGE_CHARS = 60_000
INDEX_WAIT_S = 180  # a search made while the index still opens waits this long for it


def page_file(path: str, settings: Any) -> Path | None:
    """The file behind an indexed ``path`` (repo-relative, corpus-relative or absolute)."""
    candidates = [Path(path), REPO_ROOT / path, *(Path(root).parent / path for root in settings.corpus)]
    for cand in candidates:
        if cand.suffix and cand.is_file():
            return cand
    return None


def page_text(index: Any, hit: Any, settings: Any) -> str:
    """The whole page a search hit came from: its file if readable, else all its indexed chunks."""
    file = page_file(hit.path, settings)
    if file is not None:
        text = file.read_text(encoding="utf-8", errors="replace")
        if file.suffix.lower() not in (".md", ".markdown", ".txt"):
            text = f"```{file.suffix.lstrip('.')}\n{text}\n```"
    else:
        table = getattr(index, "_table", {}) or {}
        rows = [i for i, p in enumerate(table.get("path", [])) if p == hit.path]
        parts = [table["text"][i] for i in rows] or [hit.text]
        text = "\n\n".join(parts)
    if len(text) > MAX_PAGE_CHARS:
        text = text[:MAX_PAGE_CHARS] + "\n\n*(page cut at 60,000 characters)*"
    return f"#### {hit.title}\n`{hit.path}` · {hit.kind}\n\n---\n\n" + close_fences(text)


def build(services: Services) -> None:
    """Lay out the Docs tab and wire its events."""
    from copilot.index import KINDS

    hits_state = gr.State(list)
    with gr.Row(elem_classes="cp-bottom"):
        query = gr.Textbox(show_label=False, placeholder="Search the docs, tutorials, papers, FAQ and API",
                           scale=6, elem_id="docs-query")
        go = gr.Button("Search", variant="primary", scale=1, min_width=120, elem_id="docs-search")
    with gr.Row():
        kinds = gr.CheckboxGroup(list(KINDS), label="Kinds (none ticked: all)", scale=4, elem_id="docs-kinds")
        k = gr.Slider(1, 30, value=10, step=1, label="Results", scale=1, min_width=200)
    with gr.Row():
        with gr.Column(scale=5):
            results = gr.HTML(search_results_html("", []), elem_id="docs-results")
        with gr.Column(scale=6):
            pick = gr.Dropdown([], label="Open a full page", elem_id="docs-open", interactive=True)
            page = gr.Markdown(elem_id="docs-page", elem_classes="cp-page", visible=False)

    def search(text: str, kinds_v: list[str], k_v: float):
        try:
            hits = services.index(INDEX_WAIT_S).search(text or "", k=int(k_v), kinds=kinds_v or None)
        except Exception as exc:  # noqa: BLE001 - one sentence on the page
            return ([], status_html(one_sentence(exc), "error"), gr.update(choices=[], value=None),
                    gr.update(visible=False))
        labels = [result_label(i, h) for i, h in enumerate(hits, 1)]
        return (hits, search_results_html(text or "", hits),
                gr.update(choices=labels, value=None), gr.update(visible=False))

    def open_page(label: str | None, hits: list[Any]):
        for i, hit in enumerate(hits, 1):
            if result_label(i, hit) == label:
                return gr.update(value=page_text(services.index(0), hit, services.settings), visible=True)
        return gr.update(visible=False)

    for trigger in (query.submit, go.click):
        trigger(search, [query, kinds, k], [hits_state, results, pick, page], concurrency_limit=4,
                concurrency_id="search")
    pick.input(open_page, [pick, hits_state], page, concurrency_limit=None)
