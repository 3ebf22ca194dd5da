"""Generate-and-run jobs for the web UI, driven from a worker thread.

A job calls :func:`copilot.codegen.generate.generate` or
:func:`copilot.codegen.sandbox.run_script` in a thread; their events land in a queue and
:func:`drive` applies them to a :class:`JobView` that the tab renders while it waits.
Nothing here imports gradio.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from copilot.ui.runs import parse_progress, slug

log = logging.getLogger(__name__)
LOG_LINES = 400
Emit = Callable[[str, dict], None]


@dataclass
class JobView:
    """Everything the Generate & Run tab shows about the current job."""

    status: str = ""
    state: str = "info"  # info | busy | ok | error
    spec: dict[str, Any] | None = None
    script: str | None = None
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    step: int = 0
    total: int = 0
    curve: str | None = None
    eval_return: float | None = None
    eval_std: float | None = None
    script_path: str | None = None
    run_dir: str | None = None
    finished: bool = False
    asks: list[dict[str, Any]] = field(default_factory=list)  # [{ask, done: None|bool, detail}]
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> latest `run` event
    report: dict[str, Any] | None = None  # {metric, groups, best, verdict}
    artifacts: dict[str, str] = field(default_factory=dict)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    plot: str | None = None  # the comparison plot of an experiment
    ran: bool = False  # the finished job trained something (asks left unverified are then not done)

    @property
    def is_experiment(self) -> bool:
        """More than one run, or an aggregated report: shown with the runs table and result."""
        return len(self.runs) > 1 or bool(self.report and self.report.get("groups"))

    @property
    def log_text(self) -> str:
        return "\n".join(self.log)

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        """Fold one event from generate/run_script into the view."""
        if kind == "status":
            self.status, self.state = str(data.get("text", "")), "busy"
        elif kind == "spec":
            self.spec = dict(data)
        elif kind == "script":
            self.script = str(data.get("text", ""))
        elif kind == "log":
            self.add_line(str(data.get("line", "")))
        elif kind == "progress":
            self.step, self.total = int(data.get("step") or 0), int(data.get("total") or 0)
        elif kind == "plan":
            self.set_asks(data.get("asks"))
        elif kind == "run":
            self.update_run(data)
        elif kind == "report":
            self.set_report(data.get("report"), data.get("artifacts"))
        elif kind == "done":
            self.finish(data)

    def set_asks(self, asks: Any) -> None:
        if isinstance(asks, list):
            self.asks = [{"ask": str(a.get("ask", "")), "done": a.get("done"), "detail": str(a.get("detail") or "")}
                         for a in asks if isinstance(a, dict)]

    def update_run(self, data: dict[str, Any]) -> None:
        """Merge a ``run`` event (or a finished run.json) into the runs table, keyed by folder."""
        where = data.get("run_dir")
        key = os.path.normpath(str(where)) if where else f"{data.get('label') or data.get('group')}/{data.get('seed')}"
        row = self.runs.setdefault(key, {})
        row.update({k: v for k, v in data.items() if v is not None})

    def set_report(self, report: Any, artifacts: Any = None) -> None:
        if isinstance(report, dict):
            self.report = report
        if isinstance(artifacts, dict):
            self.artifacts.update({str(k): str(v) for k, v in artifacts.items() if v})
        plot = self.artifacts.get("plot")
        if plot and Path(plot).is_file():
            self.plot = plot

    def add_line(self, line: str) -> None:
        for piece in line.replace("\r", "\n").splitlines() or [""]:
            found = parse_progress(piece)
            if found and found[1] > 0:
                self.step, self.total = found
            if piece.strip():
                self.log.append(piece.rstrip())

    def finish(self, data: dict[str, Any]) -> None:
        """Apply a finished result (``GenerateResult.to_json()`` or a run result as a dict)."""
        self.finished = True
        ok, error = bool(data.get("ok")), str(data.get("error") or "")
        if data.get("spec"):
            self.spec = data["spec"]
        if data.get("script"):
            self.script = data["script"]
        self.script_path = data.get("script_path") or self.script_path
        self.run_dir = data.get("run_dir") or self.run_dir
        if data.get("curve_png") and Path(data["curve_png"]).is_file():
            self.curve = str(data["curve_png"])
        ev = (data.get("manifest") or {}).get("eval") or {}
        self.eval_return, self.eval_std = ev.get("return_mean"), ev.get("return_std")
        self._finish_experiment(data)
        if not self.log and data.get("log_tail"):
            self.add_line(str(data["log_tail"]))
        if self.total and ok:
            self.step = self.total
        self.ran = bool(data.get("manifest") or self.runs)
        missing = [a for a in self.asks if a.get("done") is not True] if self.ran else []
        if ok and not missing:
            self.state = "ok"
            self.status = self.summary(ran=self.ran)
        else:
            self.state = "error"
            self.status = error or self.missing_sentence(missing) or "The job failed; see the log below."

    def _finish_experiment(self, data: dict[str, Any]) -> None:
        """Take the final asks, runs, report, evaluations and artifacts from a ``done`` result."""
        self.set_asks(data.get("asks"))
        finals = [r for r in data.get("runs") or [] if isinstance(r, dict)]
        if len(finals) == 1 and len(self.runs) == 1:  # one run: the same row, however its folder is spelt
            finals = [dict(finals[0], run_dir=next(iter(self.runs)))]
        for run in finals:
            ev = run.get("eval") or {}
            final = {"state": "done", "return_mean": ev.get("return_mean")}
            if run.get("total_steps"):
                final.update(step=run["total_steps"], total=run["total_steps"])
            known = os.path.normpath(str(run.get("run_dir"))) in self.runs
            label = {} if known else {"label": f"{run.get('algo', 'run')} {run.get('env', '')}".strip()}
            self.update_run({"run_dir": run.get("run_dir"), "seed": run.get("seed"), **label, **final})
        self.set_report(data.get("report"), data.get("artifacts"))
        if isinstance(data.get("evaluations"), list):
            self.evaluations = [e for e in data["evaluations"] if isinstance(e, dict)]
        if not self.run_dir and len(self.runs) == 1:
            self.run_dir = next(iter(self.runs.values())).get("run_dir")

    def missing_sentence(self, missing: list[dict[str, Any]]) -> str:
        if not missing:
            return ""
        names = "; ".join(a["ask"] for a in missing[:3]) + ("; …" if len(missing) > 3 else "")
        return f"Not done: {len(missing)} of {len(self.asks)} asks ({names}); see the plan below."

    def summary(self, ran: bool = True) -> str:
        """The one-line outcome of a job that succeeded."""
        if self.asks and self.is_experiment:
            verdict = (self.report or {}).get("verdict")
            tail = f" {verdict}" if verdict else ""
            return f"Finished: all {len(self.asks)} asks done over {len(self.runs)} runs.{tail}"
        if self.eval_return is not None:
            std = f" ± {self.eval_std:.1f}" if self.eval_std is not None else ""
            return f"Finished: final evaluation return {self.eval_return:.1f}{std}."
        if not ran:
            return "Script ready: edit it if you like, then press Run script."
        return "Finished."


def result_dict(result: Any) -> dict[str, Any]:
    """A generate/run result object as the ``done`` event's dict (plus ``run_dir``)."""
    if isinstance(result, dict):
        data = dict(result)
    elif hasattr(result, "to_json"):
        data = dict(result.to_json())
    else:
        data = {k: getattr(result, k) for k in ("ok", "error", "manifest", "curve_png", "log_tail")
                if hasattr(result, k)}
    for key in ("run_dir", "script_path", "curve_png"):
        value = getattr(result, key, None) if not isinstance(result, dict) else result.get(key)
        if value is not None:
            data[key] = str(value)
    return data


def new_run_dir(runs_dir: Path, request: str) -> Path:
    """A fresh, time-stamped folder under ``runs_dir`` named after the request."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir) / f"{stamp}-{slug(request)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def drive(work: Callable[[Emit], Any], view: JobView, cancel: threading.Event,
          every_s: float = 0.3) -> Iterator[JobView]:
    """Run ``work(emit)`` in a thread, apply its events to ``view`` and yield the view as it changes.

    If the consumer stops early (the page went away), ``cancel`` is set so the job stops too.
    """
    events: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(lambda kind, data: events.put((kind, data)))
        except Exception as exc:  # noqa: BLE001 - reported in the view
            log.warning("job failed", exc_info=True)
            outcome["error"] = exc
        finally:
            events.put(("__end__", {}))

    thread = threading.Thread(target=target, name="copilot-job", daemon=True)
    thread.start()
    done, last = False, 0.0
    try:
        while True:
            try:
                kind, data = events.get(timeout=every_s)
            except queue.Empty:
                yield view
                continue
            if kind == "__end__":
                break
            view.apply(kind, data)
            if time.monotonic() - last >= every_s:
                last = time.monotonic()
                yield view
        done = True
    finally:
        if not done:
            cancel.set()
    _conclude(view, outcome, cancel)
    yield view


def pump(make: Callable[[], Iterator[Any]], stop: threading.Event) -> Iterator[Any]:
    """Iterate ``make()`` entirely in one worker thread and hand its items over as they come.

    Web servers resume a generator on whichever worker thread is free, but a model stream may
    hold a thread-owned lock between tokens; so the stream is created, advanced and closed in
    one thread here. Setting ``stop`` (or dropping this iterator) closes it after its next item.
    """
    items: queue.Queue = queue.Queue()
    dropped = threading.Event()

    def work() -> None:
        stream = None
        try:
            stream = make()
            for item in stream:
                items.put(("item", item))
                if stop.is_set() or dropped.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            items.put(("error", exc))
        finally:
            if stream is not None and hasattr(stream, "close"):
                stream.close()
            items.put(("end", None))

    threading.Thread(target=work, name="copilot-stream", daemon=True).start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        dropped.set()


def _conclude(view: JobView, outcome: dict[str, Any], cancel: threading.Event) -> None:
    from copilot.ui.services import one_sentence

    if "error" in outcome:
        view.finished, view.state = True, "error"
        view.status = one_sentence(outcome["error"])
    elif outcome.get("result") is not None:
        data = result_dict(outcome["result"])
        view.run_dir = view.run_dir or data.get("run_dir")
        view.script_path = view.script_path or data.get("script_path")
        if not view.finished:
            view.finish(data)
    if cancel.is_set() and view.state != "ok" and "cancel" not in view.status.lower():
        view.state, view.status = "error", "Cancelled: " + (view.status or "the job was stopped.")


def spec_json(spec: dict[str, Any] | None) -> str:
    return json.dumps(spec, indent=2) if spec else ""
