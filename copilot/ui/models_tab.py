"""The Models tab: registered models, switching the active one, embedder info, re-ingest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from copilot.llm import ModelError, list_models
from copilot.ui.render import human_size, status_html
from copilot.ui.services import Services, one_sentence

log = logging.getLogger(__name__)
MODEL_HEADERS = ["in use", "name", "size", "status", "description"]


def model_rows(services: Services) -> list[list[Any]]:
    active = services.models.spec
    rows = [["●" if m.name == active else "", m.name, human_size(m.size_bytes), m.status, m.description]
            for m in list_models(services.settings)]
    if active and all(r[1] != active for r in rows):
        rows.insert(0, ["●", active, "-", "loaded", "given by path or URL"])
    return rows


def index_info(services: Services) -> str:
    """Markdown about the embedder and the index (from the index manifest)."""
    from copilot.index import read_manifest

    manifest = read_manifest(services.settings.index_dir)
    lines = [f"- **Embedder setting:** `{services.settings.embedder}`",
             f"- **Index folder:** `{services.settings.index_dir}`"]
    if manifest is None:
        return "\n".join(lines + [f"- **Index:** {services.index_state}"])
    emb, counts = manifest.get("embedder", {}), manifest.get("counts", {})
    kinds = ", ".join(f"{k} {v}" for k, v in sorted((counts.get("by_kind") or {}).items()))
    lines += [f"- **Index built with:** `{emb.get('name', '?')}` ({emb.get('dim', '?')} dimensions)",
              f"- **Chunks:** {counts.get('chunks', '?')} from {counts.get('sources', '?')} sources "
              f"({kinds})",
              f"- **Updated:** {manifest.get('updated', '?')}"]
    return "\n".join(lines)


def check_ingest_paths(paths: list[str], settings) -> list[str]:
    """``paths`` resolved, each required to lie under one of the configured ingest roots.

    Raises ValueError with one sentence for the first path outside them (symlinks are
    followed first, so a link inside a root cannot point outside it).
    """
    roots = settings.allowed_ingest_roots()
    out = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if not any(path == root or path.is_relative_to(root) for root in roots):
            shown = ", ".join(str(r) for r in roots)
            raise ValueError(f"{raw!r} is outside the folders the web UI may ingest ({shown}); copy it "
                             f"under {roots[0]} or add a folder to the 'ingest_roots' setting.")
        out.append(str(path))
    return out


def skipped_html(skipped: list, shown: int = 20) -> str:
    """One line per file the ingest skipped (the first ``shown``), as HTML."""
    if not skipped:
        return ""
    lines = [f"Skipped {s.path}: {s.message}" for s in skipped[:shown]]
    if len(skipped) > shown:
        lines.append(f"... and {len(skipped) - shown} more skipped files.")
    return "".join(status_html(line, "info") for line in lines)


def build(services: Services, header: gr.HTML, header_fn) -> None:
    """Lay out the Models tab and wire its events."""
    gr.Markdown("### Language model")
    table = gr.Dataframe(headers=MODEL_HEADERS, value=lambda: model_rows(services), interactive=False,
                         wrap=True, elem_id="models-table", column_widths=["7%", "20%", "9%", "12%", "52%"])
    with gr.Row(elem_classes="cp-bottom"):
        choice = gr.Dropdown([m.name for m in list_models(services.settings)], value=services.settings.model,
                             allow_custom_value=True, scale=4, elem_id="model-choice",
                             label="Model: a registered name, a path to a .gguf file, hf:DIR or openai:URL")
        load = gr.Button("Load model", variant="primary", scale=1, min_width=140, elem_id="model-load")
    result = gr.HTML(elem_id="model-status")
    gr.Markdown("### Embedder and index")
    info = gr.Markdown(lambda: index_info(services), elem_id="index-info")
    with gr.Row(elem_classes="cp-bottom"):
        roots = ", ".join(str(r) for r in services.settings.allowed_ingest_roots())
        extra = gr.Textbox(label=f"Also ingest these files or folders (one per line, optional; under {roots})",
                           lines=1,
                           max_lines=4, scale=4)
        rebuild = gr.Checkbox(label="Rebuild from scratch", value=False, scale=1)
        reingest = gr.Button("Re-ingest", scale=1, min_width=140, elem_id="reingest")
    ingest_status = gr.HTML(elem_id="ingest-status")

    def switch(spec: str, progress=gr.Progress(track_tqdm=True)):
        spec = (spec or "").strip()
        progress(0, desc=f"Loading {spec}…")
        try:
            services.models.switch(spec)
            seconds = services.models.load_seconds or 0.0
            status = status_html(f"Now using {spec} (loaded in {seconds:.1f} s).", "ok")
        except ModelError as exc:
            keep = services.models.spec
            tail = f" Still using {keep}." if keep else " No model is loaded."
            status = status_html(str(exc) + tail, "error")
        return status, model_rows(services), header_fn()

    def run_ingest(paths: str, wipe: bool, progress=gr.Progress(track_tqdm=True)):
        from copilot.ingest import ingest

        wanted = [p.strip() for p in (paths or "").splitlines() if p.strip()]
        progress(0, desc="Reading sources…")
        try:
            wanted = check_ingest_paths(wanted, services.settings)
            skipped: list = []
            summary = ingest(wanted or None, services.settings, rebuild=wipe, progress=True,
                             on_skip=skipped.append)
            services.reopen_index()
            text = (f"Index up to date: {summary['chunks']} chunks; {summary['added']} sources added, "
                    f"{summary['updated']} updated, {summary['embedded']} chunks embedded "
                    f"in {summary['seconds']:.1f} s.")
            status = status_html(text, "ok") + skipped_html(skipped)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence
            log.warning("ingest failed", exc_info=True)
            status = status_html(f"Re-ingest failed: {one_sentence(exc)}", "error")
        return status, index_info(services), header_fn()

    load.click(switch, choice, [result, table, header], concurrency_id="models", concurrency_limit=1)
    reingest.click(run_ingest, [extra, rebuild], [ingest_status, info, header], concurrency_id="ingest",
                   concurrency_limit=1)
