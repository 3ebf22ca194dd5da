"""The Generate & Run tab: request -> plan, spec and an editable script -> runs with a live log.

A request that becomes an experiment shows its plan (each ask pending, done or not done),
a table of runs with live progress, the aggregated result with the comparison plot and
the verdict, and, in plain words, what was not done.

Runs go through the queue with a limit (``MAX_RUNS`` at a time, others wait their turn);
each browser tab has its own :class:`GenSession`, so jobs and cancel buttons never mix.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr

from copilot.ui.experiment_view import not_done_html, plan_html, result_html, runs_html
from copilot.ui.jobs import Emit, JobView, drive, new_run_dir, result_dict, spec_json
from copilot.ui.render import progress_html, status_html
from copilot.ui.runs import is_run_dir, read_manifest, zip_run
from copilot.ui.services import Services

MAX_RUNS = 1
EXAMPLES = ["Train PPO on CartPole-v1 for 20000 steps", "SAC on Pendulum-v1 with 4 parallel envs, 15k steps",
            "用 DQN 训练 CartPole-v1，2 万步"]


class GenSession:
    """One browser tab's job state: its cancel flag and the script last generated."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.view = JobView()
        self.previous = self.view

    def arm(self, keep_spec: bool = False) -> None:
        """A fresh cancel flag for the job about to be queued (Cancel then hits this job only)."""
        spec = self.view.spec if keep_spec else None
        self.previous = self.view
        self.cancel = threading.Event()
        self.view = JobView(status="Waiting for a free slot…", state="busy", spec=spec)


def reusable_run_dir(view: JobView) -> Path | None:
    """The folder a generated-but-not-run script sits in, to run it there; None if it was used."""
    if not view.run_dir:
        return None
    folder = Path(view.run_dir)
    used = (folder / "run.json").exists() or (folder / "episodes.csv").exists()
    return None if used or not folder.is_dir() else folder


def _run_script_work(script: str, budget: float, run_dir: Path,
                     cancel: threading.Event) -> Callable[[Emit], Any]:
    def work(emit: Emit) -> Any:
        from copilot.codegen.sandbox import run_script

        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / "train.py"
        path.write_text(script, encoding="utf-8")
        emit("status", {"text": f"Running {path.name} in the sandbox…"})
        result = run_script(path, budget_s=budget, out=run_dir,
                            on_output=lambda line: emit("log", {"line": line}), cancel=cancel)
        data = result_dict(result)
        data.setdefault("run_dir", str(run_dir))
        data.setdefault("script_path", str(path))
        return data

    return work


def experiment_folder(view: JobView) -> Path | None:
    """The folder holding an experiment's runs (OUT for OUT/runs/<run>), to download as one zip."""
    dirs = [r["run_dir"] for r in view.runs.values() if r.get("run_dir")]
    if not view.is_experiment or not dirs:
        return None
    common = Path(os.path.commonpath(dirs))
    folder = common.parent if common.name == "runs" else common
    return folder if folder.is_dir() else None


def _complete(view: JobView, exports: Path) -> tuple[Any, Any]:
    """Fill curve/eval from the run folder and make the downloads; returns their updates."""
    script_dl = gr.update(visible=False)
    run_dl = gr.update(visible=False)
    if view.script:
        folder = exports / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "train.py"
        target.write_text(view.script, encoding="utf-8")
        script_dl = gr.update(value=str(target), visible=True)
    folder = experiment_folder(view)
    if folder is not None:
        run_dl = gr.update(value=str(zip_run(folder, exports / uuid.uuid4().hex[:12])), visible=True)
    run_dir = Path(view.run_dir) if view.run_dir else None
    if folder is None and run_dir is not None and is_run_dir(run_dir):
        if view.curve is None and (run_dir / "curve.png").is_file():
            view.curve = str(run_dir / "curve.png")
        ev = read_manifest(run_dir).get("eval") or {}
        if view.eval_return is None and ev.get("return_mean") is not None:
            view.eval_return, view.eval_std = ev["return_mean"], ev.get("return_std")
            if view.state == "ok":
                view.status = view.summary()
        run_dl = gr.update(value=str(zip_run(run_dir, exports / uuid.uuid4().hex[:12])), visible=True)
    return script_dl, run_dl


def experiment_parts(view: JobView) -> tuple[str, str, str]:
    """The plan (with what was not done on top), the runs table and the result, as HTML."""
    ended = view.finished and (view.ran or view.state == "error")
    plan = not_done_html(view.asks, ended) + plan_html(view.asks, ended)
    runs = runs_html(view.runs.values()) if view.is_experiment else ""
    result = result_html(view.report, view.evaluations, view.artifacts) if view.finished or view.report else ""
    return plan, runs, result


def _picture(view: JobView) -> Any:
    if view.plot and view.is_experiment:
        return gr.update(value=view.plot, label="Comparison of the groups")
    return gr.update(value=view.curve or view.plot, label="Learning curve")


def _render(view: JobView, with_script: bool, downloads: tuple[Any, Any] | None = None) -> list[Any]:
    status = status_html(view.status, view.state) if view.status else ""
    progress = progress_html(view.step, view.total) if view.total else ""
    script = view.script if with_script and view.script is not None else gr.update()
    single = view.eval_return is not None and not view.is_experiment
    ret = f"### Final evaluation return: {view.eval_return:.1f}" if single else ""
    dl = downloads or (gr.update(), gr.update())
    return [status, progress, *experiment_parts(view), spec_json(view.spec), script, view.log_text,
            _picture(view), ret, *dl]


class Jobs:
    """The tab's event handlers around the shared services (one instance for all sessions)."""

    def __init__(self, services: Services, exports: Path) -> None:
        self.services = services
        self.exports = exports

    @staticmethod
    def arm(sess: GenSession) -> list[Any]:
        sess.arm()
        return _render(sess.view, with_script=False)

    @staticmethod
    def arm_keep(sess: GenSession) -> list[Any]:
        sess.arm(keep_spec=True)
        return _render(sess.view, with_script=False)

    @staticmethod
    def stop(sess: GenSession) -> None:
        sess.cancel.set()

    def stream(self, sess: GenSession, work: Callable[[Emit], Any],
               with_script: bool) -> Iterator[list[Any]]:
        if sess.cancel.is_set():
            sess.view.status, sess.view.state = "Cancelled before it started.", "error"
            yield _render(sess.view, with_script)
            return
        sess.view.status = "Starting…"
        for view in drive(work, sess.view, sess.cancel):
            yield _render(view, with_script)
        yield _render(sess.view, with_script, _complete(sess.view, self.exports))

    def _generate(self, sess: GenSession, text: str, seconds: float, execute: bool) -> Iterator[list[Any]]:
        from copilot.codegen.generate import generate

        def work(emit: Emit) -> Any:
            return generate(text or "", self.services.settings, llm=self.services.models.get(60),
                            run=execute, budget_s=float(seconds), on_event=emit, cancel=sess.cancel)

        yield from self.stream(sess, work, with_script=True)

    def only_generate(self, sess: GenSession, text: str, seconds: float) -> Iterator[list[Any]]:
        yield from self._generate(sess, text, seconds, False)

    def generate_and_run(self, sess: GenSession, text: str, seconds: float) -> Iterator[list[Any]]:
        yield from self._generate(sess, text, seconds, True)

    def run_edited(self, sess: GenSession, code: str, seconds: float) -> Iterator[list[Any]]:
        if not (code or "").strip():
            sess.view.status = "There is no script to run; generate one or paste it first."
            sess.view.state = "error"
            yield _render(sess.view, False)
            return
        run_dir = reusable_run_dir(sess.previous) or new_run_dir(self.services.settings.runs_dir, "script")
        sess.view.script = code
        work = _run_script_work(code, float(seconds), run_dir, sess.cancel)
        yield from self.stream(sess, work, False)


def build(services: Services, exports: Path) -> None:
    """Lay out the Generate & Run tab and wire its events."""
    session = gr.State(GenSession)
    with gr.Row():
        request = gr.Textbox(label="What should be trained?", lines=2, scale=4, elem_id="gen-request",
                             placeholder="e.g. Train PPO on CartPole-v1 for 20000 steps")
        budget = gr.Slider(30, 900, value=180, step=10, label="Budget (s)", scale=1, min_width=240)
    with gr.Row():
        gen = gr.Button("Generate script", elem_id="gen-generate")
        gen_run = gr.Button("Generate & run", variant="primary", elem_id="gen-run-all")
        run = gr.Button("Run script", elem_id="gen-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="gen-cancel")
    gr.Examples(EXAMPLES, inputs=request, label="Examples")
    status = gr.HTML(elem_id="gen-status")
    progress = gr.HTML(elem_id="gen-progress")
    plan = gr.HTML(elem_id="gen-plan")
    runs_table = gr.HTML(elem_id="gen-runs")
    result = gr.HTML(elem_id="gen-result")
    with gr.Row():
        spec = gr.Code(label="Run spec", language="json", interactive=False, scale=2, elem_id="gen-spec",
                       max_lines=30)
        script = gr.Code(label="Script (editable)", language="python", interactive=True, scale=3,
                         lines=18, max_lines=40, elem_id="gen-script")
    with gr.Row():
        log = gr.Textbox(label="Log", lines=16, max_lines=16, autoscroll=True, interactive=False, scale=3,
                         elem_id="gen-log", elem_classes="cp-log")
        with gr.Column(scale=2):
            curve = gr.Image(label="Learning curve", type="filepath", interactive=False, height=300,
                             elem_id="gen-curve")
            ret = gr.Markdown(elem_id="gen-return")
    with gr.Row():
        dl_script = gr.DownloadButton("Download script", visible=False, elem_id="gen-dl-script")
        dl_run = gr.DownloadButton("Download run folder (.zip)", visible=False, elem_id="gen-dl-run")
    outputs = [status, progress, plan, runs_table, result, spec, script, log, curve, ret, dl_script, dl_run]
    jobs = Jobs(services, exports)
    queued = dict(outputs=outputs, show_progress="minimal")
    runs = dict(concurrency_id="runs", concurrency_limit=MAX_RUNS, **queued)
    gen.click(jobs.arm, session, outputs, queue=False).then(
        jobs.only_generate, [session, request, budget], concurrency_id="llm", concurrency_limit=1, **queued)
    gen_run.click(jobs.arm, session, outputs, queue=False).then(
        jobs.generate_and_run, [session, request, budget], **runs)
    run.click(jobs.arm_keep, session, outputs, queue=False).then(
        jobs.run_edited, [session, script, budget], **runs)
    cancel.click(jobs.stop, session, None, queue=False)
