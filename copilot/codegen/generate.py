"""Request -> RunSpec (LLM, constrained) -> script -> validation -> sandboxed run, with repairs.

``generate`` reads the facts a request states (:mod:`~copilot.codegen.facts`), retrieves a
few doc snippets, asks the LLM to fill the RunSpec under a JSON-schema grammar built from
rlcore's registry (temperature 0, so the same request gives the same spec), reconciles the
answer with the facts, checks it, renders and validates the script and runs it in the
sandbox. A malformed answer, a refused script or a run that crashes goes back to the LLM
with the error and the docs that match it, up to ``max_repairs`` times. Requests that
cannot work (unknown env, wrong action space, a budget that cannot fit, a run that hits its
wall or memory limit) stop at once with ``ok: false`` and one sentence. ``ok`` is never
true after a run without a fresh run.json from that finished run.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from copilot.codegen import prompt
from copilot.codegen.checks import check_spec, precheck, reconcile
from copilot.codegen.errors import CodegenError, Impossible
from copilot.codegen.facts import Facts, read_facts
from copilot.codegen.render import SCRIPT_NAME, render
from copilot.codegen.sandbox import RunResult, parse_progress, run_script
from copilot.codegen.spec import RunSpec
from copilot.codegen.validate import validate_script

SPEC_TOKENS = 256
EXAMPLE = "Train PPO on CartPole-v1 for 20000 steps"
Emit = Callable[[str, dict], None]


@dataclass
class GenerateResult:
    """Everything one request produced; ``to_json`` is what ``generate --json`` prints."""

    ok: bool = False
    error: str | None = None
    spec: dict[str, Any] | None = None
    script: str | None = None
    script_path: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    curve_png: str | None = None
    log_tail: str = ""
    run_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "error": self.error, "spec": self.spec, "script": self.script,
                "script_path": self.script_path, "attempts": self.attempts, "manifest": self.manifest,
                "curve_png": self.curve_png, "log_tail": self.log_tail}


class _Repair(Exception):
    """An attempt failed in a way the LLM may fix; carries the error text for the prompt."""

    def __init__(self, stage: str, error: str, detail: str = ""):
        super().__init__(error)
        self.stage, self.error, self.detail = stage, error, detail


def _emitter(on_event: Emit | None) -> Emit:
    def emit(kind: str, payload: dict) -> None:
        if on_event is not None:
            try:
                on_event(kind, payload)
            except Exception:  # noqa: BLE001 - a broken listener must not break generation
                pass
    return emit


def ask_spec(llm: Any, chat: list[dict[str, str]], facts: Facts) -> tuple[str, dict[str, Any]]:
    """The LLM's raw answer and its parsed JSON (greedy decoding under the RunSpec grammar)."""
    schema = prompt.decoding_schema(facts)
    kwargs: dict[str, Any] = {"max_tokens": SPEC_TOKENS, "temperature": 0.0}
    if getattr(llm, "constrained_json", False):
        kwargs["json_schema"] = schema
    answer = llm.complete(chat, **kwargs).strip()
    start, end = answer.find("{"), answer.rfind("}")
    try:
        data = json.loads(answer[start:end + 1]) if start >= 0 else None
    except json.JSONDecodeError as exc:
        raise _Repair("spec", f"the answer is not valid JSON ({exc.msg} at character {exc.pos})", answer) from None
    if not isinstance(data, dict):
        raise _Repair("spec", "the answer is not a JSON object", answer)
    return answer, data


def default_run_dir(settings: Any, spec: RunSpec) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    env = spec.env_id.replace(":", "_").replace("/", "_")
    base = Path(settings.runs_dir) / f"{stamp}-{spec.algo}-{env}-s{spec.seed}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def default_llm(settings: Any) -> Any:
    """The configured model; with ``threads`` on auto it leaves one core free.

    llama.cpp's worker threads spin at barriers, so using every core while anything else
    runs (a sandboxed training run, another request) slows decoding by an order of
    magnitude on 2-core machines (measured: 69 s vs 6 s for the same spec).
    """
    import dataclasses
    import os

    from copilot.llm import resolve

    if getattr(settings, "threads", 1) <= 0:
        settings = dataclasses.replace(settings, threads=max(1, (os.cpu_count() or 1) - 1))
    return resolve(settings.model, settings)


class _Session:
    """One call of :func:`generate`: its state, events and attempts."""

    def __init__(self, request: str, settings: Any, llm: Any, run: bool, budget_s: float,
                 out: Path | None, emit: Emit, cancel: threading.Event | None):
        self.request, self.settings, self.llm, self.run = request, settings, llm, run
        self.budget_s, self.out, self.emit, self.cancel = budget_s, out, emit, cancel
        self.result = GenerateResult()
        self.facts = read_facts(request)
        self.run_dir: Path | None = None
        self.spent_s = 0.0
        self.progress: tuple[int, int] | None = None

    def status(self, text: str) -> None:
        self.emit("status", {"text": text})

    def on_output(self, line: str) -> None:
        progress = parse_progress(line)
        if progress:
            self.progress = progress
            self.emit("progress", {"step": progress[0], "total": progress[1]})
        else:
            self.emit("log", {"line": line})

    def build(self, data: dict[str, Any]) -> RunSpec:
        try:
            spec = check_spec(reconcile(data, self.facts), self.budget_s if self.run else None)
        except Impossible as exc:
            chosen_by_model = {"algo": self.facts.algo is None, "steps": self.facts.total_steps is None}
            if chosen_by_model.get(exc.subject):
                raise _Repair("check", str(exc)) from None
            raise
        self.result.spec = spec.to_json()
        self.emit("spec", spec.to_json())
        return spec

    def write_script(self, spec: RunSpec) -> Path:
        script = render(spec, self.request)
        try:
            validate_script(script, SCRIPT_NAME)
        except CodegenError as exc:
            raise _Repair("validate", str(exc)) from None
        if self.run_dir is None:
            self.run_dir = Path(self.out) if self.out else default_run_dir(self.settings, spec)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / SCRIPT_NAME
        path.write_text(script, encoding="utf-8")
        self.result.script, self.result.script_path, self.result.run_dir = script, str(path), str(self.run_dir)
        self.emit("script", {"text": script})
        return path

    def execute(self, path: Path) -> RunResult:
        left = self.budget_s - self.spent_s
        if left < 5:
            raise Impossible(f"The {self.budget_s:.0f} s run budget is used up by earlier attempts; "
                             "raise it (--budget-s) to try again.")
        self.status(f"Running {path.name} in the sandbox (limit {left:.0f} s)")
        rr = run_script(path, budget_s=left, on_output=self.on_output, cancel=self.cancel, validate=False)
        self.spent_s += rr.wall_s
        self.result.log_tail = rr.log_tail
        if rr.ok:
            self.result.manifest, self.result.curve_png = rr.manifest, rr.curve_png
            return rr
        if rr.timed_out and self.progress and self.progress[0] > 0:
            step, total = self.progress
            fit = int(float(f"{step * 0.8:.2g}"))
            raise Impossible(f"The run did not finish within the {left:.0f} s budget (it reached {step} of {total} "
                             f"steps); ask for about {fit} steps or raise the budget (--budget-s).")
        if "memory limit" in (rr.error or ""):
            raise Impossible(rr.error.rstrip(".") + "; use a smaller buffer_size, batch_size or network.")
        if rr.timed_out or rr.cancelled or "CPU-time" in (rr.error or ""):
            raise Impossible(rr.error or "The run failed.")
        raise _Repair("run", rr.error or "The run failed.", rr.log_tail[-1500:])


def generate(request: str, settings: Any, *, llm: Any = None, run: bool = True, budget_s: float = 300,
             max_repairs: int = 2, out: Path | None = None, on_event: Emit | None = None,
             cancel: threading.Event | None = None) -> GenerateResult:
    """Turn ``request`` into a checked script and (with ``run``) a finished run; see the module doc.

    Events passed to ``on_event(kind, payload)``: ``status`` {text}, ``spec`` {...},
    ``script`` {text}, ``log`` {line}, ``progress`` {step, total}, ``done`` (``to_json()``).
    Without ``run``, ``ok`` means the script passed validation (nothing was run).
    """
    request = (request or "").strip()
    if not request:
        raise CodegenError(f"The request is empty; describe a training job, e.g. {EXAMPLE!r}.")
    if budget_s <= 0 or max_repairs < 0:
        raise CodegenError(f"budget_s must be positive and max_repairs at least 0; got {budget_s} and {max_repairs}.")
    session = _Session(request, settings, llm, run, budget_s, out, _emitter(on_event), cancel)
    session.status("Reading the request")
    t0 = time.perf_counter()
    try:
        precheck(session.facts)
    except Impossible as exc:
        session.result.error = str(exc)
        session.result.attempts.append({"attempt": 1, "stage": "check", "ok": False, "error": str(exc),
                                        "spec": None, "seconds": round(time.perf_counter() - t0, 2)})
        session.emit("done", session.result.to_json())
        return session.result
    session.status("Retrieving API docs")
    chat = prompt.messages(request, session.facts, prompt.retrieve(settings, session.facts.text))
    if session.llm is None:
        session.llm = default_llm(settings)
    for number in range(1, max_repairs + 2):
        if cancel is not None and cancel.is_set():
            session.result.error = "The request was cancelled."
            break
        chat, stop = _attempt(session, chat, number)
        if stop:
            break
    session.emit("done", session.result.to_json())
    return session.result


def _attempt(session: _Session, chat: list[dict[str, str]], number: int) -> tuple[list[dict[str, str]], bool]:
    """One try: ask, check, render, validate, run. Returns the chat for a repair and whether to stop."""
    from copilot.llm import AssetError, ModelError

    result, t0 = session.result, time.perf_counter()
    record: dict[str, Any] = {"attempt": number, "stage": "spec", "ok": False, "error": None, "spec": None}
    answer, stop = "", True
    try:
        session.status("Asking the model for a RunSpec" if number == 1 else f"Repair {number - 1}: asking the "
                       "model to correct the spec")
        answer, data = ask_spec(session.llm, chat, session.facts)
        record["stage"] = "check"
        spec = session.build(data)
        record["spec"], record["stage"] = spec.to_json(), "validate"
        path = session.write_script(spec)
        if session.run:
            record["stage"] = "run"
            session.execute(path)
        record["ok"], result.ok, result.error = True, True, None
    except _Repair as exc:
        record["error"] = result.error = exc.error
        docs = prompt.retrieve(session.settings, exc.error)
        chat, stop = prompt.repair_messages(chat, answer, f"{exc.error} {exc.detail}".strip(), docs), False
    except (Impossible, ModelError, AssetError) as exc:
        record["error"] = result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - report, never a raw traceback
        record["error"] = result.error = f"Generation failed unexpectedly ({type(exc).__name__}: {exc})."
    finally:
        record["seconds"] = round(time.perf_counter() - t0, 2)
        result.attempts.append(record)
    return chat, stop
