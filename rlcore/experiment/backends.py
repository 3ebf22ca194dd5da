"""Executing the runs of an experiment: one after another ("serial") or as Ray tasks ("ray").

Both report every state change of every run through ``emit(spec, status)``; a status is
``{"state", "step", "total", "return_mean", "error"}``. Ray runs in a local instance
started here (``num_cpus=workers``, small object store, no dashboard) and shut down at
the end, or joins an existing cluster with ``address`` (then each run is still a task
with ``num_cpus=1``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rlcore.errors import RLCoreError
from rlcore.experiment.worker import read_json, run_one

BACKENDS = ("ray", "serial")
POLL_S = 1.0
OBJECT_STORE_BYTES = 80 * 1024 * 1024

Emit = Callable[[Mapping[str, Any], dict[str, Any]], None]


def check_backend(backend: str, workers: Any) -> None:
    if backend not in BACKENDS:
        raise RLCoreError(f"Unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}.")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise RLCoreError(f"workers {workers!r} is not a positive integer; accepted: e.g. 2.")


def run_serial(specs: list[dict], factories: Mapping[str, Callable], emit: Emit) -> list[dict]:
    outcomes = []
    for spec in specs:
        outcome = run_one(spec, factories.get(spec["env"]), report=lambda st, s=spec: emit(s, st))
        outcomes.append(outcome)
    return outcomes


def _ray_task(spec: dict, factory: Callable | None) -> dict:
    """What a Ray worker runs: one run, its progress written to ``status.json`` for the driver."""
    return run_one(spec, factory)


def start_ray(workers: int, address: str | None) -> bool:
    """Connect to Ray; returns True when this call started a local instance (to shut it down).

    A local instance listens on loopback only and runs its workers at this process's own priority (Ray's default lowers
    them to nice 15, which starves the runs whenever anything else wants the CPU) and
    inherits this process's environment (``RLCORE_*`` settings, the path rlcore is found on).
    Workers joining a cluster get the ``RLCORE_*`` variables through the runtime env.
    """
    try:
        import ray
    except ImportError:
        raise RLCoreError("backend 'ray' needs the ray package, which is not installed; accepted: "
                          "pip install ray, or backend='serial'.") from None
    if ray.is_initialized():
        return False
    if address:
        _check_reachable(address)
    common = dict(include_dashboard=False, log_to_driver=True, logging_level="ERROR")
    try:
        if address:
            env_vars = {k: v for k, v in os.environ.items() if k.startswith("RLCORE_")}
            ray.init(address=address, runtime_env={"env_vars": env_vars}, **common)
        else:
            with _python_path():
                ray.init(num_cpus=workers, object_store_memory=OBJECT_STORE_BYTES, _node_ip_address="127.0.0.1",
                         _system_config={"worker_niceness": os.nice(0)}, **common)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise RLCoreError(f"Could not start or join {where} ({str(exc).splitlines()[0][:160]}); "
                          "accepted: a reachable Ray address such as 'auto' or '10.0.0.5:6379', or none.") from None
    return True


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse a HOST:PORT nothing listens on at once (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # 'auto' or a ray:// client address: Ray's own checks apply
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RLCoreError(f"Could not join the Ray cluster at {address!r} (nothing answers there: "
                          f"{exc.strerror or exc}); accepted: the address a head printed at "
                          "`ray start --head`, such as '10.0.0.5:6379', or 'auto' on a cluster node.") from None


@contextlib.contextmanager
def _python_path():
    """PYTHONPATH with the folder holding rlcore first, while Ray starts its processes."""
    before = os.environ.get("PYTHONPATH")
    root = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, before) if p)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _poll(pending: dict, emit: Emit) -> None:
    """Emit the latest ``status.json`` of every run still in flight."""
    for spec in pending.values():
        status = read_json(Path(spec["run_dir"]) / "status.json")
        if isinstance(status, dict) and status.get("state") == "running":
            emit(spec, status)


def run_ray(specs: list[dict], factories: Mapping[str, Callable], emit: Emit, workers: int,
            address: str | None) -> list[dict]:
    import ray

    started = start_ray(workers, address)
    pending: dict = {}
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        refs = {task.remote(spec, factories.get(spec["env"])): i for i, spec in enumerate(specs)}
        outcomes: list[dict | None] = [None] * len(specs)
        pending = {ref: specs[i] for ref, i in refs.items()}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in done:
                spec = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # the worker died (killed, out of memory, ...)
                    error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    outcome = {"state": "failed", "manifest": None, "error": error}
                outcomes[refs[ref]] = outcome
                emit(spec, final_status(spec, outcome))
            _poll(pending, emit)
        return outcomes  # type: ignore[return-value]
    except BaseException:  # interrupted (Ctrl-C, or emit raised to stop early): stop the runs in flight
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def final_status(spec: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict[str, Any]:
    manifest = outcome.get("manifest") or {}
    status = read_json(Path(spec["run_dir"]) / "status.json") or {}
    return {"state": outcome["state"], "step": int(manifest.get("total_steps") or status.get("step") or 0),
            "total": spec["steps"], "return_mean": (manifest.get("eval") or {}).get("return_mean"),
            "error": outcome.get("error")}
