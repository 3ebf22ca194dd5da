"""Experiments: a grid of runs (algorithms x envs x variants x seeds) on Ray, aggregated.

    from rlcore.experiment import Experiment
    exp = Experiment(out="runs/exp1", algos=["ppo", "a2c"], envs=["CartPole-v1"], seeds=[0, 1, 2],
                     steps=10_000, variants={"lr=1e-3": {"config": {"lr": 1e-3}}})
    result = exp.run(workers=2)             # local Ray with 2 CPUs; backend="serial" runs in-process
    result.report["verdict"]                # one sentence; result.report["groups"][label] has the CI
    result.artifacts["plot"]                # out/curves.png: learning curves per group with CI bands

Each run trains in its own folder ``out/runs/<label>-seed<k>/`` (the trainer's files plus
``spec.json`` and ``status.json``); a folder that already holds a finished run of the same
spec is skipped, so calling ``run()`` again resumes an interrupted experiment. A run gives
the same result on Ray, serially, or alone with ``make_agent(...).train(...)``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlcore.experiment.backends import BACKENDS, check_backend, run_ray, run_serial
from rlcore.experiment.spec import METRICS, check_scalars, expand, split_envs
from rlcore.experiment.worker import build_agent, finished, read_json

EVENT_PREFIX = "@@rlcore.experiment "


@dataclass
class ExperimentResult:
    """``runs``: each run's run.json plus run_dir, label, group, task, seed, state, score, error and
    node (where it trained: host, pid and, on Ray, the node's id and IP);
    ``report``: the aggregate (see :func:`rlcore.experiment.aggregate.aggregate`);
    ``artifacts``: paths of the plot and reports."""

    runs: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "report": self.report, "artifacts": self.artifacts}


class Events:
    """Run state changes as ``@@rlcore.experiment {json}`` stdout lines and/or a callback."""

    def __init__(self, enabled: bool, callback: Callable[[dict], None] | None = None):
        self.enabled, self.callback = enabled, callback
        self._last: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def send(self, event: dict) -> None:
        if self.enabled:
            sys.stdout.write(EVENT_PREFIX + json.dumps(event, default=str) + "\n")
            sys.stdout.flush()
        if self.callback is not None:
            self.callback(event)

    def run(self, spec: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        key = (status.get("state"), status.get("step"), status.get("return_mean"))
        with self._lock:
            if self._last.get(spec["run_dir"]) == key:
                return
            self._last[spec["run_dir"]] = key
            self.send({"event": "run", "label": spec["label"], "group": spec["group"], "seed": spec["seed"],
                       "run_dir": spec["run_dir"], "state": status.get("state"),
                       "step": int(status.get("step") or 0), "total": int(status.get("total") or spec["steps"]),
                       "return_mean": status.get("return_mean"), "error": status.get("error")})


class Experiment:
    """A grid of runs; see the module docstring. The constructor only stores its arguments.

    Args:
        out: experiment folder (runs under ``out/runs/``, report and plot in ``out``).
        algos: registered algorithm keys.
        envs: env ids, or ``{"label": factory}`` with ``factory() -> gymnasium.Env``.
        seeds: a list of seeds (an int ``n`` means ``range(n)``).
        steps: env steps per run.
        variants: ``{name: {"config", "parts", "num_envs", "env_kwargs"}}`` (optional axis).
        common: the same keys, applied to every run (variants override).
        eval_episodes: deterministic evaluation episodes after training: a run's score.
        metric: ``"iqm"`` or ``"mean"``; intervals are ``1 - alpha`` stratified bootstrap CIs.
    """

    def __init__(self, out: str | Path, algos: list[str], envs: Any, seeds: Any = (0, 1, 2),
                 steps: int = 10_000, variants: Mapping[str, Mapping] | None = None,
                 common: Mapping[str, Any] | None = None, eval_episodes: int = 10, metric: str = "iqm",
                 alpha: float = 0.05, reps: int = 2000):
        self.out, self.algos, self.envs, self.seeds, self.steps = Path(out), algos, envs, seeds, steps
        self.variants, self.common, self.eval_episodes = variants, common, eval_episodes
        self.metric, self.alpha, self.reps = metric, alpha, reps

    def specs(self) -> tuple[list[dict], dict[str, Callable]]:
        """(one spec per run, env label -> factory), every setting checked (one-sentence errors)."""
        from rlcore.registry import get

        seeds = check_scalars(self.seeds, self.steps, self.eval_episodes, self.metric)
        algos = [self.algos] if isinstance(self.algos, str) else list(self.algos or [])
        for algo in algos:
            get("agents", algo)
        labels, factories = split_envs(self.envs)
        specs = expand(algos, labels, seeds, self.variants, self.common, self.steps, self.eval_episodes,
                       self.out.resolve())  # absolute: Ray workers may start in another folder
        checked = set()
        for spec in specs:  # build each distinct agent once (unbuilt: a 1-env probe, no training)
            key = (spec["algo"], spec["env"], spec["variant"])
            if key not in checked:
                checked.add(key)
                build_agent(spec, factories.get(spec["env"]))
        return specs, factories

    def run(self, workers: int = 2, address: str | None = None, backend: str = "ray",
            events: bool | None = None, on_event: Callable[[dict], None] | None = None) -> ExperimentResult:
        """Train every unfinished run (Ray tasks with one CPU each, or in this process), then aggregate.

        ``events`` (default: env var ``RLCORE_EVENTS=1``) prints one ``@@rlcore.experiment``
        JSON line per run state change and one with the report; ``on_event`` receives the same dicts.
        """
        import os

        from rlcore.experiment.aggregate import aggregate

        check_backend(backend, workers)
        if events is None:
            events = os.environ.get("RLCORE_EVENTS", "").strip().lower() in ("1", "true", "yes", "on")
        specs, factories = self.specs()
        sink = Events(bool(events), on_event)
        done = {s["run_dir"]: finished(s) for s in specs}
        pending = [s for s in specs if done[s["run_dir"]] is None]
        for spec in specs:
            manifest = done[spec["run_dir"]]
            state = "queued" if manifest is None else "skipped"
            sink.run(spec, {"state": state, "step": (manifest or {}).get("total_steps", 0), "total": spec["steps"],
                            "return_mean": ((manifest or {}).get("eval") or {}).get("return_mean")})
        outcomes: list[dict] = []
        if pending:
            outcomes = (run_serial(pending, factories, sink.run) if backend == "serial"
                        else run_ray(pending, factories, sink.run, workers, address))
        by_dir = {s["run_dir"]: o for s, o in zip(pending, outcomes)}
        runs = [_run_record(s, done[s["run_dir"]], by_dir.get(s["run_dir"])) for s in specs]
        report, artifacts = aggregate(runs, self.out, self.metric, self.reps, self.alpha)
        sink.send({"event": "report", "report": report, "artifacts": artifacts})
        return ExperimentResult(runs, report, artifacts)


def _run_record(spec: dict, skipped: dict | None, outcome: dict | None) -> dict[str, Any]:
    manifest = skipped or (outcome or {}).get("manifest") or {}
    state = "skipped" if skipped else (outcome or {}).get("state", "failed")
    score = (manifest.get("eval") or {}).get("return_mean")
    node = (outcome or {}).get("node") or (read_json(Path(spec["run_dir"]) / "status.json") or {}).get("node")
    return {**manifest, "run_dir": spec["run_dir"], "label": spec["label"], "group": spec["group"],
            "task": spec["task"], "seed": spec["seed"], "variant": spec["variant"], "state": state,
            "score": score, "error": (outcome or {}).get("error"), "node": node}


__all__ = ["Experiment", "ExperimentResult", "BACKENDS", "METRICS", "EVENT_PREFIX"]
