"""The training loop: collect, update, log, evaluate, checkpoint, and write ``run.json``."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlcore import __version__

RUN_KEYS = ("algo", "env", "seed", "total_steps", "num_envs", "device", "config", "modules",
            "obs_shape", "action_space", "eval", "checkpoint", "wall_time_s", "update_path",
            "rlcore_version")


def default_run_dir(algo: str, env_id: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{algo}-{env_id.replace(':', '_').replace('/', '_')}-s{seed}-{stamp}"


def describe_space(space) -> dict[str, Any]:
    """JSON description of an action space."""
    out: dict[str, Any] = {"type": type(space).__name__, "shape": list(space.shape or ())}
    if hasattr(space, "n"):
        out["n"] = int(space.n)
    if hasattr(space, "low"):
        out["low"] = np.asarray(space.low).reshape(-1).tolist()
        out["high"] = np.asarray(space.high).reshape(-1).tolist()
    return out


class Trainer:
    """Runs an agent for a number of env steps and records everything in ``out``.

    Args:
        agent: a built or unbuilt :class:`rlcore.agents.base.Agent`.
        out: run folder (default ``runs/<algo>-<env>-s<seed>-<time>``).
        eval_episodes: deterministic evaluation episodes at the end (0 skips it).
        eval_every: also evaluate every this many env steps (0: only at the end).
        checkpoint_every: save ``checkpoints/step_<N>.pt`` every this many steps (0: end only).
        log_every: env steps between progress rows (default: total_steps / 100).
        progress: show a progress bar on stderr.
        tensorboard: write TensorBoard event files under ``out/tb``.
    """

    def __init__(self, agent, out: str | Path | None = None, eval_episodes: int = 10,
                 eval_every: int = 0, checkpoint_every: int = 0, log_every: int = 0,
                 progress: bool = True, tensorboard: bool = True):
        self.agent = agent
        self.out = Path(out) if out else default_run_dir(agent.name, agent.env_id, agent.seed)
        self.eval_episodes, self.eval_every = eval_episodes, eval_every
        self.checkpoint_every, self.log_every = checkpoint_every, log_every
        self.progress, self.tensorboard = progress, tensorboard
        self.rows: list[dict[str, Any]] = []
        self._recent: list[tuple[float, int]] = []
        self._writer = None

    # ----- files -------------------------------------------------------------------------
    def _open_files(self, resume: bool) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "episodes.csv"
        new = not (resume and path.exists())
        self._episodes_file = open(path, "w" if new else "a", newline="")
        self._episodes_csv = csv.writer(self._episodes_file)
        if new:
            self._episodes_csv.writerow(["step", "return", "length"])
        progress = self.out / "progress.csv"
        if resume and progress.exists():  # keep the rows of the earlier part of the run
            with open(progress, newline="") as f:
                self.rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
        if self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._writer = SummaryWriter(str(self.out / "tb"))
            except ImportError:  # tensorboard not installed: CSV logs only
                self._writer = None

    def _write_progress(self) -> None:
        keys: list[str] = []
        for row in self.rows:
            keys.extend(k for k in row if k not in keys)
        with open(self.out / "progress.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)

    def _log(self, metrics: dict[str, float], elapsed: float, eval_result: dict | None = None) -> None:
        step = self.agent.global_step
        row: dict[str, Any] = {"step": step, "time_s": round(elapsed, 3),
                               "fps": round(step / max(elapsed, 1e-9), 1)}
        if self._recent:
            rets = [r for r, _ in self._recent]
            row.update(episodes=len(rets), return_mean=float(np.mean(rets)),
                       length_mean=float(np.mean([n for _, n in self._recent])))
            self._recent = []
        if eval_result:
            row["eval_return_mean"] = eval_result["return_mean"]
        row.update({k: float(v) for k, v in metrics.items()})
        self.rows.append(row)
        if self._writer is not None:
            for k, v in row.items():
                if k != "step":
                    self._writer.add_scalar(k, v, step)

    # ----- loop --------------------------------------------------------------------------
    def run(self, total_steps: int) -> dict[str, Any]:
        from tqdm.auto import tqdm

        agent = self.agent
        resume = agent.built and agent.global_step > 0
        agent.ensure_built()
        agent.total_steps = int(total_steps)
        self._open_files(resume)
        agent.reset_env()
        log_every = self.log_every or max(total_steps // 100, 1)
        next_log = agent.global_step + log_every
        next_eval = agent.global_step + self.eval_every if self.eval_every else None
        next_ckpt = agent.global_step + self.checkpoint_every if self.checkpoint_every else None
        start = time.perf_counter()
        bar = tqdm(total=total_steps, initial=agent.global_step, disable=not self.progress,
                   file=sys.stderr, unit="step", dynamic_ncols=True, desc=f"{agent.name} {agent.env_id}")
        metrics: dict[str, float] = {}
        eval_time = 0.0
        while agent.global_step < total_steps:
            before = agent.global_step
            _, new_metrics = agent.iterate()
            metrics = new_metrics or metrics
            bar.update(agent.global_step - before)
            for ret, length in agent.env.pop_episodes():
                self._episodes_csv.writerow([agent.global_step, round(ret, 4), length])
                self._recent.append((ret, length))
            eval_result = None
            if next_eval is not None and agent.global_step >= next_eval:
                t0 = time.perf_counter()
                eval_result = agent.evaluate(self.eval_episodes or 5)
                eval_time += time.perf_counter() - t0
                next_eval += self.eval_every
            if agent.global_step >= next_log or eval_result:
                if self._recent:
                    bar.set_postfix(ret=f"{np.mean([r for r, _ in self._recent]):.1f}", refresh=False)
                self._log(metrics, time.perf_counter() - start - eval_time, eval_result)
                next_log += log_every
            if next_ckpt is not None and agent.global_step >= next_ckpt:
                agent.save(self.out / "checkpoints" / f"step_{agent.global_step}.pt")
                next_ckpt += self.checkpoint_every
        bar.close()
        train_time = time.perf_counter() - start - eval_time
        if not self.rows or int(self.rows[-1]["step"]) != agent.global_step:
            self._log(metrics, train_time)
        return self._finish(train_time)

    def _finish(self, train_time: float) -> dict[str, Any]:
        agent = self.agent
        self._episodes_file.close()
        self._write_progress()
        if self._writer is not None:
            self._writer.close()
        ckpt = agent.save(self.out / "checkpoints" / "final.pt")
        save_training_state(agent, self.out / "checkpoints" / TRAINING_STATE)
        result = {"episodes": 0, "return_mean": None, "return_std": None}
        if self.eval_episodes > 0:
            ev = agent.evaluate(self.eval_episodes)
            result = {k: ev[k] for k in ("episodes", "return_mean", "return_std")}
        manifest = {
            "algo": agent.name,
            "env": agent.env_id,
            "seed": agent.seed,
            "total_steps": agent.global_step,
            "num_envs": agent.env.num_envs,
            "device": str(agent.device),
            "config": _jsonable(dataclasses.asdict(agent.config)),
            "modules": agent.modules(),
            "obs_shape": list(agent.env.single_observation_space.shape or ()),
            "action_space": describe_space(agent.action_space),
            "eval": result,
            "checkpoint": str(ckpt.relative_to(self.out)),
            "wall_time_s": round(train_time, 3),
            "update_path": agent.update_path,
            "rlcore_version": __version__,
        }
        assert tuple(manifest) == RUN_KEYS
        (self.out / "run.json").write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            from rlcore.evaluation.curves import plot_run

            plot_run(self.out)
        except Exception as exc:  # a plot must never lose a finished run
            print(f"warning: could not draw the learning curve ({exc})", file=sys.stderr)
        return manifest


TRAINING_STATE = "training_state.pt"
STORAGE_LIMIT_BYTES = 256 * 1024 * 1024


def _capture(obj: Any, count: int | None, capacity: int | None) -> dict[str, Any]:
    """Tensors and numbers of a storage object (recursing into rlcore.storage helpers); rows
    of capacity-sized tensors past ``count`` are left out (they were never written)."""
    import torch

    def cut(t):
        full = count is not None and capacity and t.dim() and t.shape[0] == capacity and count < capacity
        return t[:count].clone() if full else t.clone()

    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if isinstance(value, torch.Tensor):
            out[name] = cut(value)
        elif isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values()):
            out[name] = {k: cut(v) for k, v in value.items()}
        elif isinstance(value, list) and value and all(isinstance(v, torch.Tensor) for v in value):
            out[name] = [v.clone() for v in value]
        elif isinstance(value, (bool, int, float)):
            out[name] = value
        elif type(value).__module__.startswith("rlcore.storage"):
            out[name] = _capture(value, None, None)
    return out


def _restore(obj: Any, state: dict[str, Any]) -> None:
    import torch

    for name, saved in state.items():
        current = getattr(obj, name, None)
        if isinstance(saved, torch.Tensor) and isinstance(current, torch.Tensor):
            (current[: saved.shape[0]] if saved.dim() else current).copy_(saved)
        elif isinstance(saved, dict) and isinstance(current, dict):
            for k, v in saved.items():
                current[k][: v.shape[0]].copy_(v)
        elif isinstance(saved, list) and isinstance(current, list):
            for dst, src in zip(current, saved):
                dst.copy_(src)
        elif isinstance(saved, dict) and current is not None:
            _restore(current, saved)
        elif isinstance(saved, (bool, int, float)):
            setattr(obj, name, saved)


def save_training_state(agent, path: Path) -> Path | None:
    """Save what a checkpoint leaves out but continuing a run needs: the off-policy replay
    storage (the rows written so far) and the agent's random generator. Skipped (with a
    warning) when the storage is larger than 256 MB."""
    import torch

    state: dict[str, Any] = {"generator": agent.generator.get_state()}
    storage = getattr(agent, "storage", None)
    if storage is not None and getattr(storage, "kind", None) == "off_policy":
        captured = _capture(storage, getattr(storage, "count", None), getattr(storage, "capacity", None))
        size = sum(t.numel() * t.element_size() for t in _tensors(captured))
        if size <= STORAGE_LIMIT_BYTES:
            state["storage"] = captured
        else:
            print(f"warning: the replay storage ({size / 2**20:.0f} MB) is not saved; a continued run "
                  "starts with an empty one.", file=sys.stderr)
    torch.save(state, path)
    return path


def _tensors(tree: Any):
    import torch

    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _tensors(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _tensors(v)


def load_training_state(agent, path: Path) -> bool:
    """Restore :func:`save_training_state`'s file into a built agent; False when there is none."""
    import torch

    if not Path(path).is_file():
        return False
    state = torch.load(path, map_location="cpu", weights_only=True)
    agent.generator.set_state(state["generator"])
    if "storage" in state and getattr(agent, "storage", None) is not None:
        _restore(agent.storage, state["storage"])
    return True


def resume(run_dir: str | Path, more_steps: int, env=None, progress: bool = False) -> dict[str, Any]:
    """Continue a finished run for ``more_steps`` env steps in the same folder.

    The agent, its optimizers, observation statistics and (off-policy) replay storage are
    reloaded from the final checkpoint; progress.csv and episodes.csv are appended to, new
    checkpoints and run.json are written, and run.json's ``total_steps`` becomes the sum.
    ``env`` is the factory of a custom env that is not registered in this process.
    Returns the new run manifest.
    """
    from rlcore.errors import RLCoreError
    from rlcore.evaluation.checkpoint import load_agent

    if isinstance(more_steps, bool) or not isinstance(more_steps, int) or more_steps < 1:
        raise RLCoreError(f"more_steps {more_steps!r} is not a positive integer; accepted: e.g. 10000.")
    run_dir = Path(run_dir)
    agent, manifest = load_agent(run_dir, env=env)
    load_training_state(agent, run_dir / "checkpoints" / TRAINING_STATE)
    episodes = (manifest.get("eval") or {}).get("episodes") or 10
    trainer = Trainer(agent, out=run_dir, eval_episodes=episodes, progress=progress,
                      tensorboard=(run_dir / "tb").is_dir())
    return trainer.run(agent.global_step + more_steps)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
