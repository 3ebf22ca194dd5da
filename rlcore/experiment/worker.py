"""One run of an experiment, in whatever process executes it (the driver or a Ray worker).

The run folder holds ``spec.json`` (what was asked), ``status.json`` (state, step, latest
return; rewritten every few seconds while training), the trainer's files and, on failure,
``error.txt`` with the traceback. A folder is finished when it holds ``run.json`` and a
``spec.json`` equal to the spec asked for now. The final ``status.json`` also records where
the run trained (``node``: host, process and, on Ray, the node's id and IP).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rlcore.experiment.spec import identity

STATUS_EVERY_S = 2.0


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def finished(spec: Mapping[str, Any]) -> dict | None:
    """The run.json of a finished run folder made from the same spec, else None."""
    run_dir = Path(spec["run_dir"])
    asked = read_json(run_dir / "spec.json")
    manifest = read_json(run_dir / "run.json")
    if asked is None or manifest is None or identity(asked) != json.loads(json.dumps(identity(spec))):
        return None
    return manifest


def where() -> dict[str, Any]:
    """The machine and process running this code, with the Ray node's id and IP inside a Ray worker."""
    node: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    ray = sys.modules.get("ray")  # imported in a Ray worker; never imported here for a serial run
    if ray is not None and ray.is_initialized():
        node["ray_node_id"] = ray.get_runtime_context().get_node_id()
        node["ip"] = ray.util.get_node_ip_address()
    return node


def build_agent(spec: Mapping[str, Any], factory: Callable | None = None):
    """The agent a spec describes (unbuilt), as ``make_agent`` would make it alone."""
    from rlcore import make_agent
    from rlcore.envs import make_env, register_env

    from rlcore.registry import get

    env: Any = register_env(spec["env"], factory) if factory is not None else spec["env"]
    if spec.get("env_kwargs"):  # the agent's own number of envs unless the spec sets one
        num_envs = spec.get("num_envs") or get("agents", spec["algo"]).default_num_envs
        env = make_env(env, num_envs, seed=spec["seed"], **spec["env_kwargs"])
    return make_agent(spec["algo"], env, dict(spec["config"]), seed=spec["seed"],
                      num_envs=spec.get("num_envs"), **spec["parts"])


def _status(trainer, spec, state: str, error: str | None = None) -> dict[str, Any]:
    step = int(getattr(trainer.agent, "global_step", 0)) if trainer is not None else 0
    ret = None
    rows = list(getattr(trainer, "rows", []) or []) if trainer is not None else []
    for row in reversed(rows):
        if row.get("return_mean") not in (None, ""):
            ret = float(row["return_mean"])
            break
    evals = [[int(r["step"]), float(r["eval_return_mean"])] for r in rows  # with spec["eval_every"] set
             if r.get("eval_return_mean") not in (None, "")]
    return {"state": state, "step": step, "total": spec["steps"], "return_mean": ret, "error": error,
            "evals": evals}


def _reporter(trainer, spec, report: Callable[[dict], None]) -> tuple[threading.Event, threading.Thread]:
    """A daemon thread calling ``report(status)`` every few seconds while the run trains."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(STATUS_EVERY_S):
            report(_status(trainer, spec, "running"))

    thread = threading.Thread(target=loop, name="rlcore-run-status", daemon=True)
    thread.start()
    return stop, thread


def run_one(spec: Mapping[str, Any], factory: Callable | None = None,
            report: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Train and evaluate one run into ``spec["run_dir"]``; never raises for a failed run.

    Returns ``{"state": "done"|"failed", "manifest": run.json or None, "error": str or None}``.
    ``report`` receives status dicts (also written to ``status.json``).
    """
    from rlcore.trainer import Trainer

    run_dir = Path(spec["run_dir"])
    if run_dir.exists():
        shutil.rmtree(run_dir)  # half-written or made from another spec: redo
    run_dir.mkdir(parents=True)
    write_json(run_dir / "spec.json", dict(spec))

    def publish(status: dict) -> None:
        write_json(run_dir / "status.json", status)
        if report is not None:
            report(status)

    trainer, node = None, where()
    publish(_status(None, spec, "running"))
    try:
        agent = build_agent(spec, factory)
        trainer = Trainer(agent, out=run_dir, eval_episodes=spec["eval_episodes"], progress=False,
                          tensorboard=False, eval_every=int(spec.get("eval_every") or 0))
        stop, thread = _reporter(trainer, spec, publish)
        try:
            manifest = trainer.run(spec["steps"])
        finally:
            stop.set()
            thread.join()
    except Exception as exc:  # a failed run is reported; the others go on
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        (run_dir / "error.txt").write_text(traceback.format_exc())
        publish({**_status(trainer, spec, "failed", error), "node": node})
        return {"state": "failed", "manifest": None, "error": error, "node": node}
    status = _status(trainer, spec, "done")
    status["return_mean"] = (manifest.get("eval") or {}).get("return_mean")
    publish({**status, "node": node})
    return {"state": "done", "manifest": manifest, "error": None, "node": node}
