"""The Runs tab: past runs with their curves; several selected runs compared in one plot."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from copilot.ui.runs import (ROW_HEADERS, UNREADABLE, ArchiveTooLarge, compare_figure, is_regular, list_runs,
                             load_manifest, zip_run)
from copilot.ui.services import Services


def build(services: Services, exports: Path) -> dict[str, gr.components.Component]:
    """Lay out the Runs tab and wire its events; returns the components others refresh."""
    runs_dir = Path(services.settings.runs_dir)
    gr.Markdown(f"Runs are kept in `{runs_dir}`. Tick several to compare their learning curves.",
                elem_classes="cp-muted")
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=100, elem_id="runs-refresh")
    table = gr.Dataframe(headers=ROW_HEADERS, interactive=False, wrap=True, elem_id="runs-table",
                         max_height=260)
    pick = gr.CheckboxGroup([], label="Compare", elem_id="runs-compare")
    plot = gr.Plot(label="Learning curves", elem_id="runs-plot")
    with gr.Row():
        one = gr.Dropdown([], label="Run details", scale=3, elem_id="runs-detail")
        download = gr.DownloadButton("Download run folder (.zip)", scale=1, visible=False,
                                     elem_id="runs-download")
    with gr.Row():
        curve = gr.Image(label="Curve", type="filepath", interactive=False, height=320, scale=3)
        manifest = gr.Code(label="run.json", language="json", interactive=False, scale=2, max_lines=24)

    def load():
        runs = list_runs(runs_dir)
        names = [r.name for r in runs]
        rows = [r.row() for r in runs] or [["no runs yet"] + [""] * (len(ROW_HEADERS) - 1)]
        first = names[:1]
        return (rows, gr.update(choices=names, value=first), compare_figure(runs[:1]),
                gr.update(choices=names, value=names[0] if names else None))

    def compare(names: list[str]):
        runs = [r for r in list_runs(runs_dir) if r.name in set(names or [])]
        return compare_figure(runs)

    def details(name: str | None):
        runs = {r.name: r for r in list_runs(runs_dir)}
        run = runs.get(name or "")
        if run is None:
            return None, "", gr.update(visible=False)
        png = run.path / "curve.png"
        data = load_manifest(run.path)
        data = UNREADABLE if data is None else data or {"state": "unfinished"}
        try:
            download = gr.update(value=str(zip_run(run.path, exports)), visible=True)
        except (ArchiveTooLarge, OSError) as exc:
            gr.Warning(str(exc) if isinstance(exc, ArchiveTooLarge) else
                       f"Run folder {run.name!r} could not be archived ({exc.strerror or exc}).")
            download = gr.update(visible=False)
        return (str(png) if is_regular(png) else None, json.dumps(data, indent=2), download)

    outputs = [table, pick, plot, one]
    refresh.click(load, None, outputs, concurrency_limit=None)
    pick.input(compare, pick, plot, concurrency_limit=None)
    one.change(details, one, [curve, manifest, download], concurrency_limit=None)
    return {"load": load, "outputs": outputs}
