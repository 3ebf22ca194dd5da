"""During a trial: intermediate evaluation returns -> Optuna reports and pruning; between
processes: trials left running by a worker that died are failed and queued again.

:class:`Watch` is the ``emit(spec, status)`` callback the experiment runner calls with each
run's ``status.json``. Once every seed of the trial has its k-th evaluation, the IQM over
seeds is reported at that step; the pruner may then stop the trial (the runner cancels the
runs still in flight). :func:`recover` finds RUNNING trials whose worker process is gone
(same host, pid not alive) or silent for :data:`STALE_S`, fails them and enqueues their
parameters again, so a killed study resumes where it was: the seeds that had finished are
found in the trial folder and skipped.
"""

from __future__ import annotations

import csv
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlcore.evaluation.metrics import iqm

HOST = socket.gethostname()
STALE_S = 600.0  # a RUNNING trial whose worker has been silent this long (other hosts) is stale
HEARTBEAT_S = 20.0
COUNTED = ("COMPLETE", "PRUNED")  # plus FAIL trials whose runs failed (user attr "error")


def worker_id() -> str:
    return f"{HOST}:{os.getpid()}"


def eval_history(run_dir: str | Path) -> list[list[float]]:
    """[[step, eval return], ...] from a finished run's progress.csv (empty when none)."""
    try:
        with open(Path(run_dir) / "progress.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    return [[int(float(r["step"])), float(r["eval_return_mean"])] for r in rows if r.get("eval_return_mean")]


class Watch:
    """Reports the IQM over seeds of each intermediate evaluation; prunes when told to."""

    def __init__(self, trial: Any, run_dirs: list[str], prune: bool):
        self.trial, self.run_dirs, self.prune = trial, list(run_dirs), prune
        self.evals: dict[str, list] = {d: eval_history(d) for d in run_dirs}
        self.reported = 0
        self.beat = 0.0
        self.lock = threading.Lock()

    def __call__(self, spec: dict, status: dict) -> None:
        with self.lock:
            finished = status.get("state") in ("done", "failed")
            if status.get("evals"):
                self.evals[spec["run_dir"]] = status["evals"]
            elif finished:
                self.evals[spec["run_dir"]] = eval_history(spec["run_dir"])
            self._heartbeat()
            self._report(prune=self.prune and not finished)

    def _heartbeat(self) -> None:
        now = time.time()
        if now - self.beat >= HEARTBEAT_S:
            self.beat = now
            self.trial.set_user_attr("alive_at", now)

    def _report(self, prune: bool) -> None:
        """Report every evaluation all seeds have reached; prune only while runs are in flight."""
        import optuna

        ready = min(len(self.evals.get(d) or []) for d in self.run_dirs)
        while self.reported < ready:
            k = self.reported
            points = [self.evals[d][k] for d in self.run_dirs]
            step = int(max(p[0] for p in points))
            value = float(iqm(np.array([[p[1]] for p in points])))
            self.trial.report(value, step)
            self.reported += 1
            if prune and self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (IQM {value:.4g} below the median)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(trial: Any, now: float | None = None) -> bool:
    """A RUNNING trial whose worker died (same host) or went silent for STALE_S."""
    now = time.time() if now is None else now
    host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
    if host == HOST and pid.isdigit() and int(pid) != os.getpid():
        return not _pid_alive(int(pid))
    start = trial.datetime_start.timestamp() if trial.datetime_start else now
    return now - float(trial.user_attrs.get("alive_at") or start) > STALE_S


def counted(trial: Any) -> bool:
    """Whether a trial counts toward --trials: complete, pruned, or failed for a reason of its own."""
    state = trial.state.name
    return state in COUNTED or (state == "FAIL" and bool(trial.user_attrs.get("error")))


def recover(study: Any) -> list[int]:
    """Fail stale RUNNING trials and enqueue the parameters of every uncounted failed trial
    once; returns the numbers of the trials queued again."""
    from optuna.trial import TrialState

    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_stale(t):
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    queued = []
    for t in trials:
        if t.state == TrialState.FAIL and not counted(t) and t.number not in retried and t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
            queued.append(t.number)
    return queued
