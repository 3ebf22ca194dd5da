"""A hyperparameter study: Optuna (TPE sampler, median pruner) over runs on the experiment runner.

    from rlcore.tune import Tuner, parse_params
    tuner = Tuner("ppo", "CartPole-v1", parse_params(["lr=log:1e-5:1e-2"]), out="runs/tune1",
                  trials=20, seeds=2, steps=30_000, workers=2)
    result = tuner.run()          # result["best"]["config"], result["best"]["value"] (IQM over seeds)

Each trial trains its config with every seed through :mod:`rlcore.experiment` (Ray tasks, one
CPU each; ``backend="serial"`` in-process) in ``out/trials/<config key>/runs/``; its value is
the IQM over seeds of the final evaluation returns. Intermediate evaluations (every
``steps / evals`` steps) feed the median pruner. The study lives in a journal file
(``out/study.journal``, the default) or any Optuna storage URL (``sqlite:///tune.db``), so
running the same command again resumes it and several processes can share it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rlcore.errors import RLCoreError
from rlcore.tune.params import Param, check_params
from rlcore.tune.watch import Watch, counted, recover, worker_id

BACKENDS = ("ray", "serial")


class RunFailed(Exception):
    """A run of a trial failed (its error is kept on the trial)."""


def config_key(config: dict[str, Any]) -> str:
    """A short stable folder name for a config (the same config reuses its finished runs)."""
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def open_storage(storage: str | None, out: Path) -> Any:
    """A journal file (default ``out/study.journal``, or a path) or an Optuna RDB URL (sqlite:///...)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if storage and "://" in storage:
        try:
            return optuna.storages.RDBStorage(storage)
        except Exception as exc:  # a bad URL or an unreachable database
            raise RLCoreError(
                f"Could not open the study storage {storage!r} ({str(exc).splitlines()[0][:120]}); "
                "accepted: a journal file path or a database URL such as sqlite:///tune.db."
            ) from None
    path = Path(storage) if storage else out / "study.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


class Tuner:
    """One study; the constructor only stores and checks its arguments. See the module doc."""

    def __init__(
        self,
        algo: str,
        env: str,
        params: list[Param],
        out: str | Path,
        trials: int = 20,
        seeds: int = 2,
        steps: int = 20_000,
        fixed: dict[str, Any] | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        workers: int = 2,
        address: str | None = None,
        backend: str = "ray",
        eval_episodes: int = 10,
        evals: int = 4,
        sampler_seed: int | None = None,
        on_trial: Callable[[dict], None] | None = None,
        parts: dict[str, str] | None = None,
        num_envs: int | None = None,
    ):
        from rlcore.registry import get

        get("agents", algo)
        check_params(algo, params, fixed)
        for name, value, low in (
            ("trials", trials, 1),
            ("seeds", seeds, 1),
            ("steps", steps, 1),
            ("workers", workers, 1),
            ("eval_episodes", eval_episodes, 1),
            ("evals", evals, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise RLCoreError(f"{name} {value!r} is not an integer >= {low}; accepted: e.g. 2.")
        if backend not in BACKENDS:
            raise RLCoreError(f"Unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}.")
        self.algo, self.env, self.params, self.out = algo, env, list(params), Path(out)
        self.trials, self.seeds, self.steps, self.fixed = trials, list(range(seeds)), steps, dict(fixed or {})
        self.storage, self.study_name = storage, study_name or f"{algo}-{env}"
        self.workers, self.address, self.backend = workers, address, backend
        self.eval_episodes, self.evals, self.sampler_seed = eval_episodes, evals, sampler_seed
        self.on_trial, self.parts, self.num_envs = on_trial, dict(parts or {}), num_envs

    # ----- the study ------------------------------------------------------------------------
    def setup(self) -> dict[str, Any]:
        return {
            "algo": self.algo,
            "env": self.env,
            "params": [p.text() for p in self.params],
            "fixed": self.fixed,
            "parts": self.parts,
            "num_envs": self.num_envs,
            "seeds": len(self.seeds),
            "steps": self.steps,
            "eval_episodes": self.eval_episodes,
        }

    def study(self) -> Any:
        """Create or load the study; one that was made with another setup is refused."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=self.steps // 4)
        study = optuna.create_study(
            storage=open_storage(self.storage, self.out),
            study_name=self.study_name,
            direction="maximize",
            pruner=pruner,
            load_if_exists=True,
        )
        # A resumed study must not replay the proposals of the first session: offset the seed by the trials so far.
        seed = (
            None if self.sampler_seed is None else self.sampler_seed + len(study.get_trials(deepcopy=False))
        )
        study.sampler = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=max(3, min(10, self.trials // 4))
        )
        had = study.user_attrs.get("setup")
        mine = json.loads(json.dumps(self.setup(), default=str))
        if had is None:
            study.set_user_attr("setup", mine)
            return study
        # keys added after a study was made (empty by default) count as their default
        diff = next((k for k in mine if had.get(k, mine[k] if mine[k] in (None, {}) else "?") != mine[k]), None)
        if diff is not None:
            raise RLCoreError(
                f"Study {self.study_name!r} in this storage was made with {diff} = {had.get(diff)!r}, "
                f"not {mine[diff]!r}; accepted: the same settings to resume it, or another --out, "
                "--storage or --study-name."
            )
        return study

    def run(self) -> dict[str, Any]:
        """Run trials until the study has ``trials`` counted ones; returns :func:`rlcore.tune.output.summarise`."""
        from rlcore.experiment.backends import start_ray
        from rlcore.tune.output import summarise

        study = self.study()
        requeued = recover(study)
        started = self.backend == "ray" and start_ray(self.workers, self.address)
        t0 = time.perf_counter()
        try:
            left = self.trials - sum(counted(t) for t in study.get_trials(deepcopy=False))
            if left > 0:
                study.optimize(
                    self._objective,
                    n_trials=left,
                    n_jobs=self.parallel_trials(),
                    catch=(RunFailed, RLCoreError),
                    callbacks=[self._after_trial],
                )
        finally:
            if started:
                import ray

                ray.shutdown()
        return summarise(self, study, time.perf_counter() - t0, requeued)

    def parallel_trials(self) -> int:
        """Trials run side by side: workers / seeds on Ray (at least one), one in-process."""
        return max(1, self.workers // len(self.seeds)) if self.backend == "ray" else 1

    def _after_trial(self, study: Any, trial: Any) -> None:
        if sum(counted(t) for t in study.get_trials(deepcopy=False)) >= self.trials:
            study.stop()  # other workers sharing the study finished the rest
        if self.on_trial is not None:
            from rlcore.tune.output import trial_line

            self.on_trial({"trial": trial, "study": study, "line": trial_line(self, study, trial)})

    # ----- one trial ------------------------------------------------------------------------
    def _objective(self, trial: Any) -> float:
        from rlcore.experiment import Experiment
        from rlcore.experiment.backends import run_ray, run_serial
        from rlcore.experiment.worker import finished

        trial.set_user_attr("worker", worker_id())
        config = {**self.fixed, **{p.name: p.suggest(trial) for p in self.params}}
        folder = self.out / "trials" / config_key(config)
        trial.set_user_attr("folder", str(folder))
        exp = Experiment(
            out=folder,
            algos=[self.algo],
            envs=[self.env],
            seeds=self.seeds,
            steps=self.steps,
            common={"config": config, "parts": self.parts, "num_envs": self.num_envs},
            eval_episodes=self.eval_episodes,
        )
        try:
            specs, factories = exp.specs()  # builds each agent once: a config it refuses fails here
        except RLCoreError as exc:
            trial.set_user_attr("error", str(exc))
            raise
        every = self.steps // (self.evals + 1) if self.evals else 0
        for spec in specs:
            spec["eval_every"] = every
        done = {s["run_dir"]: finished(s) for s in specs}
        pending = [s for s in specs if done[s["run_dir"]] is None]
        watch = Watch(trial, [s["run_dir"] for s in specs], prune=self.backend == "ray")
        outcomes = []
        if pending:
            outcomes = (
                run_ray(pending, factories, watch, self.workers, self.address)
                if self.backend == "ray"
                else run_serial(pending, factories, watch)
            )
        for outcome in outcomes:
            if outcome["state"] != "done":
                trial.set_user_attr("error", outcome.get("error") or "a run failed")
                raise RunFailed(outcome.get("error"))
        manifests = [done[s["run_dir"]] for s in specs if done[s["run_dir"]]] + [
            o["manifest"] for o in outcomes
        ]
        scores = [float((m.get("eval") or {}).get("return_mean") or "nan") for m in manifests]
        if not all(np.isfinite(scores)):
            trial.set_user_attr("error", f"a run has no evaluation return (scores {scores})")
            raise RunFailed(trial.user_attrs["error"])
        trial.set_user_attr("scores", scores)
        trial.set_user_attr("run_dirs", [s["run_dir"] for s in specs])
        return float(iqm_of(scores))


def iqm_of(scores: list[float]) -> float:
    """IQM of one task's scores (the 25% trimmed mean; the mean for fewer than four)."""
    from rlcore.evaluation.metrics import iqm

    return float(iqm(np.asarray(scores, dtype=np.float64)[:, None]))
