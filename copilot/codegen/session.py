"""One call of :func:`copilot.codegen.generate.generate`: asks, base spec, plan, script, run, verify.

The session reads the request's facts and asks with code, builds the base RunSpec (from the
facts alone when they name the algorithm, env and steps, else from the model's constrained
answer reconciled with the facts), turns it into a plan, renders and validates the script,
runs it in the sandbox, reads the outputs back and verifies every ask. Events go to the
listener as they happen (see :func:`~copilot.codegen.generate.generate`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable

from copilot.codegen import catalog
from copilot.codegen.asks import read_asks
from copilot.codegen.checks import check_spec, fit_rollout, check_steps, reconcile
from copilot.codegen.errors import CodegenError, Impossible
from copilot.codegen.facts import read_facts
from copilot.codegen.fixrun import diagnose, fix_ask, propose, stated_baseline
from copilot.codegen.outputs import read_outputs
from copilot.codegen.plan import WORKERS, Plan, make_plan, written_code
from copilot.codegen.render import SCRIPT_NAME
from copilot.codegen.render_plan import render_plan
from copilot.codegen.sandbox import parse_progress, run_script
from copilot.codegen.spec import RunSpec
from copilot.codegen.validate import validate_script
from copilot.codegen.verify import verify

Emit = Callable[[str, dict], None]
EVENT_PREFIX = "@@rlcore.experiment "
RAY_START_S = 45.0


class Repair(Exception):
    """An attempt failed in a way the LLM may fix; carries the error text for the prompt."""

    def __init__(self, stage: str, error: str, detail: str = ""):
        super().__init__(error)
        self.stage, self.error, self.detail = stage, error, detail


class Session:
    """State of one request: facts, asks, plan, events and the result being filled."""

    def __init__(self, request: str, settings: Any, llm: Any, run: bool, budget_s: float,
                 out: Path | None, emit: Emit, cancel: threading.Event | None, result: Any):
        self.request, self.settings, self.llm, self.run = request, settings, llm, run
        self.budget_s, self.out, self.emit, self.cancel = budget_s, out, emit, cancel
        self.result = result
        self.facts = read_facts(request)
        self.asked = read_asks(request, self.facts.parts)
        self.written = None
        self.fix: dict[str, Any] | None = None
        self.plan: Plan | None = None
        self.run_dir: Path | None = None
        self.spent_s = 0.0
        self.progress: tuple[int, int] | None = None
        self.fill, self.explicit_budget = "auto", True

    # ----- before the model ---------------------------------------------------------------
    def prepare(self) -> None:
        """Code-read parts that change the base spec: written code, continuation, a fix."""
        asked, facts = self.asked, self.facts
        if asked.more_steps and asked.base_steps:
            facts.total_steps = asked.base_steps
        if asked.custom_env:
            self.written = written_code(asked, RunSpec(facts.algo or "ppo", "", 1))
            facts.env_id, facts.unknown_env = self.written.env_id, None
        elif asked.reward and facts.env_id:
            self.written = written_code(asked, RunSpec(facts.algo or "ppo", facts.env_id, 1))
        if asked.fix:
            self.fix = self._fix()

    def _fix(self) -> dict[str, Any]:
        facts, asked = self.facts, self.asked
        findings, baseline, what = [], stated_baseline(facts.text), "as the request states"
        if asked.run_path and (Path(asked.run_path).expanduser() / "run.json").is_file():
            findings, baseline, manifest = diagnose(Path(asked.run_path).expanduser())
            facts.algo, facts.env_id = facts.algo or manifest["algo"], facts.env_id or manifest["env"]
            what = f"from {asked.run_path}: " + ("; ".join(findings) or "no failure pattern found in its files")
        if not facts.algo or not facts.env_id:
            raise Impossible("To fix a run, name its algorithm and env (e.g. 'my DQN on MountainCar-v0') or "
                             "give its run folder.")
        if baseline is None:
            raise Impossible("The request gives no return of the failing run to beat; say what it reaches (e.g. "
                             "'never gets past -200') or give its run folder.")
        change = propose(facts.algo, facts.env_id, findings, facts.total_steps)
        if change.get("budget_s") and not self.explicit_budget:
            self.budget_s = float(change["budget_s"])
        return {"baseline": baseline, "what": what, "change": change}

    def use_model(self) -> bool:
        f = self.facts
        if self.fix:
            return False
        return self.fill == "model" or not (f.algo and f.env_id and f.total_steps)

    # ----- base spec ----------------------------------------------------------------------
    def build(self, data: dict[str, Any]) -> RunSpec:
        budget = self.budget_s if self.run else None
        try:
            if self.fix:
                spec = self._fix_spec()
            elif self.written and self.written.check_env:
                spec = self._custom_spec(data, budget)
            else:
                spec = check_spec(reconcile(data, self.facts), budget)
        except Impossible as exc:
            chosen_by_model = {"algo": self.facts.algo is None, "steps": self.facts.total_steps is None}
            if self.use_model() and chosen_by_model.get(exc.subject):
                raise Repair("check", str(exc)) from None
            raise
        self.result.spec = spec.to_json()
        self.emit("spec", spec.to_json())
        return spec

    def _fix_spec(self) -> RunSpec:
        change, f = self.fix["change"], self.facts
        spec = RunSpec(f.algo, f.env_id, int(change["steps"]), seed=f.seed or 0, num_envs=change.get("num_envs"),
                       config=dict(change["config"]), parts=dict(change["parts"]), eval_episodes=10,
                       notes=[f"Proposed change: {change['why']}."])
        return check_spec(spec, None)

    def _custom_spec(self, data: dict[str, Any], budget: float | None) -> RunSpec:
        f = self.facts
        algo = f.algo or data.get("algo")
        if algo not in catalog.algos():
            raise Impossible(f"Name the algorithm to train on the custom environment; accepted: "
                             f"{', '.join(catalog.algos())}.")
        if "Discrete" not in catalog.space_names(algo):
            fits = [a for a in catalog.algos() if "Discrete" in catalog.space_names(a)]
            raise Impossible(f"{algo.upper()} cannot act in the grid world's discrete action space; use "
                             f"{', '.join(fits)} instead.")
        spec = reconcile({**data, "algo": algo, "env_id": "CartPole-v1"}, dataclasses.replace(f, env_id="CartPole-v1"))
        spec = dataclasses.replace(spec, env_id=self.written.env_id)
        fit_rollout(spec)
        check_steps(spec, budget)
        return spec

    # ----- plan, script, run --------------------------------------------------------------
    def make_plan(self, spec: RunSpec) -> Plan:
        plan = make_plan(self.asked, spec, self.facts, self.budget_s if self.run else None, self.written)
        if self.fix:
            change = self.fix["change"]
            plan.asks.insert(1, fix_ask(spec.algo, spec.env_id, self.fix["baseline"], self.fix["what"],
                                        change["why"]))
        self.plan = plan
        self.result.asks = [a.to_json() for a in plan.asks]
        self.emit("plan", {"asks": [a.to_json() for a in plan.asks]})
        if plan.refusal:
            raise Impossible(plan.refusal)
        return plan

    def write_script(self, plan: Plan) -> Path:
        script = render_plan(plan, self.request)
        try:
            validate_script(script, SCRIPT_NAME)
        except CodegenError as exc:
            raise Repair("validate", str(exc)) from None
        if self.run_dir is None:
            from copilot.codegen.generate import default_run_dir

            self.run_dir = Path(self.out) if self.out else default_run_dir(self.settings, plan.spec)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / SCRIPT_NAME
        path.write_text(script, encoding="utf-8")
        r = self.result
        r.script, r.script_path, r.run_dir = script, str(path), str(self.run_dir)
        r.artifacts = {"script": str(path)}
        self.emit("script", {"text": script})
        return path

    def limit_s(self, plan: Plan) -> float:
        """Wall limit of the whole script: the per-run budget times the rounds of runs."""
        if plan.grid or plan.tune:
            return self.budget_s * math.ceil(plan.run_count() / WORKERS) + RAY_START_S
        more = plan.post.get("more_steps") or 0
        extra = 30.0 * (bool(plan.post.get("evaluate")) + len(plan.post.get("exports") or []))
        return self.budget_s * (1 + more / max(plan.spec.total_steps, 1)) + extra

    def on_output(self, line: str) -> None:
        if line.startswith(EVENT_PREFIX):
            try:
                event = json.loads(line[len(EVENT_PREFIX):])
            except ValueError:
                return
            if event.get("event") == "run":
                self.emit("run", {k: event.get(k) for k in ("label", "group", "seed", "run_dir", "state", "step",
                                                            "total", "return_mean", "error")})
            return
        progress = parse_progress(line)
        if progress:
            self.progress = progress
            self.emit("progress", {"step": progress[0], "total": progress[1]})
            if self.plan and not self.plan.grid:
                self.single_run_event("running", progress[0], progress[1])
        else:
            self.emit("log", {"line": line})

    def single_run_event(self, state: str, step: int, total: int, ret: Any = None, error: Any = None) -> None:
        spec = self.plan.spec
        label = f"{spec.algo}/{self.written.env_id if self.written else spec.env_id}"
        self.emit("run", {"label": label, "group": spec.algo, "seed": spec.seed, "run_dir": str(self.run_dir),
                          "state": state, "step": step, "total": total, "return_mean": ret, "error": error})

    def execute(self, path: Path, plan: Plan) -> None:
        """Run the script in the sandbox, read its outputs back and verify every ask."""
        left = self.limit_s(plan) - self.spent_s
        if left < 5:
            raise Impossible(f"The {self.budget_s:.0f} s run budget is used up by earlier attempts; "
                             "raise it (--budget-s) to try again.")
        self.status(f"Running {path.name} in the sandbox (limit {left:.0f} s)")
        if not plan.grid:
            self.single_run_event("queued", 0, plan.spec.total_steps)
        start = time.time()
        rr = run_script(path, budget_s=left, on_output=self.on_output, cancel=self.cancel, validate=False)
        self.spent_s += rr.wall_s
        self.result.log_tail = rr.log_tail
        out = read_outputs(rr.run_dir, since=start) if rr.returncode == 0 else None
        if out is None:
            if not plan.grid:
                self.single_run_event("failed", self.progress[0] if self.progress else 0, plan.spec.total_steps,
                                      error=rr.error)
            self.fail(rr, left)
        self.record(out, rr)

    def fail(self, rr: Any, left: float) -> None:
        error = rr.error or "The script finished without writing outputs.json, so its results cannot be checked."
        if rr.timed_out and self.progress and self.progress[0] > 0:
            step, total = self.progress
            fit = int(float(f"{step * 0.8:.2g}"))
            raise Impossible(f"The run did not finish within the {left:.0f} s limit (it reached {step} of {total} "
                             f"steps); ask for about {fit} steps or raise the budget (--budget-s).")
        if "memory limit" in error:
            raise Impossible(error.rstrip(".") + "; use a smaller buffer_size, batch_size or network.")
        if rr.timed_out or rr.cancelled or "CPU-time" in error:
            raise Impossible(error)
        raise Repair("run", error, rr.log_tail[-1500:])

    def record(self, out: dict[str, Any], rr: Any) -> None:
        r = self.result
        r.runs, r.report, r.evaluations = out["runs"], out["report"], out["evaluations"]
        r.artifacts = {**(r.artifacts or {}), **out["artifacts"]}
        if len(r.runs) == 1:
            r.manifest = {k: v for k, v in r.runs[0].items() if k != "run_dir"}
            r.curve_png = out["artifacts"].get("plot") or rr.curve_png
        if not self.plan.grid and r.runs:
            ev = r.runs[0].get("eval") or {}
            self.single_run_event("done", r.runs[0].get("total_steps", 0), self.plan.spec.total_steps,
                                  ev.get("return_mean"))
        r.ok = verify(self.plan.asks, out)
        r.asks = [a.to_json() for a in self.plan.asks]
        self.emit("report", {"report": r.report, "artifacts": r.artifacts})
        if not r.ok:
            bad = [a for a in self.plan.asks if not a.done]
            r.error = f"Not done: {bad[0].ask} ({bad[0].detail.rstrip('.')})." + (
                f" {len(bad) - 1} more ask(s) not done." if len(bad) > 1 else "")

    def status(self, text: str) -> None:
        self.emit("status", {"text": text})
