"""Request -> asks -> plan (one run or a grid, post steps, written code) -> checked script ->
sandboxed run -> verified outputs, with repairs.

``generate`` reads the request's facts and asks with code (:mod:`~copilot.codegen.facts`,
:mod:`~copilot.codegen.asks`). When the request names the algorithm, env and step count the
base RunSpec comes from those facts alone; otherwise the LLM fills it under a JSON-schema
grammar built from rlcore's registry (temperature 0) and the answer is reconciled with the
facts. The plan (:mod:`~copilot.codegen.plan`) adds the grid, post steps and written code;
the script is rendered, validated and run in the sandbox; the outputs are read back and
every ask is verified. A malformed answer, a refused script or a crashed run of a
model-filled spec goes back to the LLM with the error, up to ``max_repairs`` times.
Requests that cannot work stop at once with ``ok: false`` and one sentence. ``ok`` is true
only when every ask is done, checked from fresh outputs of the finished run(s).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from copilot.codegen import prompt
from copilot.codegen.checks import precheck
from copilot.codegen.errors import CodegenError, Impossible
from copilot.codegen.facts import Facts
from copilot.codegen.session import Repair, Session
from copilot.codegen.spec import RunSpec

SPEC_TOKENS = 256
FILLS = ("auto", "model")
DEFAULT_BUDGET_S = 300.0
EXAMPLE = "Train PPO on CartPole-v1 for 20000 steps"
Emit = Callable[[str, dict], None]


@dataclass
class GenerateResult:
    """Everything one request produced; ``to_json`` is what ``generate --json`` prints."""

    ok: bool = False
    error: str | None = None
    asks: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] | None = None
    script: str | None = None
    script_path: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    curve_png: str | None = None
    log_tail: str = ""
    run_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"ok": self.ok, "error": self.error, "asks": self.asks, "runs": self.runs, "report": self.report,
               "evaluations": self.evaluations, "artifacts": self.artifacts, "script": self.script,
               "spec": self.spec, "script_path": self.script_path, "attempts": self.attempts,
               "curve_png": self.curve_png, "log_tail": self.log_tail, "run_dir": self.run_dir}
        if len(self.runs) == 1 or (not self.runs and self.manifest):
            out["manifest"] = self.manifest
        return out


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
        raise Repair("spec", f"the answer is not valid JSON ({exc.msg} at character {exc.pos})", answer) from None
    if not isinstance(data, dict):
        raise Repair("spec", "the answer is not a JSON object", answer)
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


def generate(request: str, settings: Any, *, llm: Any = None, run: bool = True, budget_s: float | None = None,
             max_repairs: int = 2, out: Path | None = None, on_event: Emit | None = None,
             cancel: threading.Event | None = None, fill: str = "auto") -> GenerateResult:
    """Turn ``request`` into checked, verified runs; see the module doc.

    ``fill``: ``"auto"`` builds the base spec from the request's facts when they name the
    algorithm, env and steps and asks the model otherwise; ``"model"`` always asks the model.

    ``budget_s`` is the wall-time budget of one run (a grid gets it per round of parallel runs);
    ``None`` means 300 s, or the time a measured fix-my-run recipe needs.
    Events passed to ``on_event(kind, payload)``: ``status`` {text}, ``plan`` {asks} once the asks
    are known, ``spec`` {...}, ``script`` {text}, ``log`` {line}, ``progress`` {step, total},
    ``run`` {label, group, seed, run_dir, state, step, total, return_mean, error}, ``report``
    {report, artifacts} and ``done`` (``to_json()``). Without ``run``, ``ok`` means the script
    passed validation (nothing was run).
    """
    request = (request or "").strip()
    if not request:
        raise CodegenError(f"The request is empty; describe a training job, e.g. {EXAMPLE!r}.")
    explicit = budget_s is not None
    budget_s = DEFAULT_BUDGET_S if budget_s is None else budget_s
    if budget_s <= 0 or max_repairs < 0:
        raise CodegenError(f"budget_s must be positive and max_repairs at least 0; got {budget_s} and {max_repairs}.")
    if fill not in FILLS:
        raise CodegenError(f"Unknown fill {fill!r}; accepted: {', '.join(FILLS)}.")
    session = Session(request, settings, llm, run, budget_s, out, _emitter(on_event), cancel, GenerateResult())
    session.fill, session.explicit_budget = fill, explicit
    session.status("Reading the request")
    t0 = time.perf_counter()
    try:
        precheck(session.facts)
        session.prepare()
    except Impossible as exc:
        session.result.error = str(exc)
        session.result.attempts.append({"attempt": 1, "stage": "check", "ok": False, "error": str(exc),
                                        "spec": None, "seconds": round(time.perf_counter() - t0, 2)})
        session.emit("done", session.result.to_json())
        return session.result
    chat: list[dict[str, str]] = []
    if session.use_model():
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


def _attempt(session: Session, chat: list[dict[str, str]], number: int) -> tuple[list[dict[str, str]], bool]:
    """One try: spec, plan, render, validate, run, verify. Returns the chat for a repair and whether to stop."""
    from copilot.llm import AssetError, ModelError

    result, t0 = session.result, time.perf_counter()
    record: dict[str, Any] = {"attempt": number, "stage": "spec", "ok": False, "error": None, "spec": None}
    answer, stop, data = "", True, {}
    try:
        if session.use_model():
            session.status("Asking the model for a RunSpec" if number == 1 else f"Repair {number - 1}: asking "
                           "the model to correct the spec")
            answer, data = ask_spec(session.llm, chat, session.facts)
        record["stage"] = "check"
        spec = session.build(data)
        record["spec"], record["stage"] = spec.to_json(), "plan"
        plan = session.make_plan(spec)
        record["stage"] = "validate"
        path = session.write_script(plan)
        if session.run:
            record["stage"] = "run"
            session.execute(path, plan)
        else:
            result.ok = True
        record["ok"] = result.ok
    except Repair as exc:
        record["error"] = result.error = exc.error
        if session.use_model():
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
