"""Reloading a run folder's agent from a checkpoint, and evaluating it over N episodes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlcore.errors import RLCoreError


def _manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        raise RLCoreError(f"{str(run_dir)!r} is not a run folder (no run.json found); accepted: a folder "
                          "written by agent.train(), python -m rlcore train or an experiment run.")
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise RLCoreError(f"{str(path)!r} is not valid JSON; accepted: a run.json written by the trainer.") from None


def checkpoint_path(run_dir: str | Path, checkpoint: str | Path | None = None) -> Path:
    """The checkpoint file: run.json's (the final one) by default, else ``checkpoint`` as a path,
    a path inside the run folder, or a file name in its ``checkpoints/`` folder."""
    run_dir = Path(run_dir)
    if checkpoint is None:
        return run_dir / _manifest(run_dir)["checkpoint"]
    for candidate in (Path(checkpoint), run_dir / checkpoint, run_dir / "checkpoints" / checkpoint):
        if candidate.is_file():
            return candidate
    found = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt") if p.name != "training_state.pt")
    raise RLCoreError(f"Checkpoint {str(checkpoint)!r} is not in {str(run_dir)!r}; accepted: "
                      f"{', '.join(found) if found else 'none (the folder has no checkpoints)'}.")


def load_agent(run_dir: str | Path, checkpoint: str | Path | None = None, env: Callable | None = None,
               device: str = "cpu"):
    """(agent, run.json) rebuilt from a run folder and loaded from ``checkpoint`` (default: final).

    The agent is made as the run made it: algorithm, config, parts, seed and number of envs
    from ``run.json``; env options (``env_kwargs``) from ``spec.json`` when an experiment wrote
    the run. ``env`` is the factory of a custom env (a function returning a gymnasium.Env)
    when the run trained on one that is not registered in this process.
    """
    from rlcore import make_agent
    from rlcore.envs import make_env, register_env

    run_dir = Path(run_dir)
    m = _manifest(run_dir)
    path = checkpoint_path(run_dir, checkpoint)
    spec = {}
    if (run_dir / "spec.json").is_file():
        spec = json.loads((run_dir / "spec.json").read_text())
    env_id: Any = register_env(spec.get("env") or m["env"], env) if env is not None else m["env"]
    if spec.get("env_kwargs"):
        env_id = make_env(env_id, m["num_envs"], seed=m["seed"], device=device, **spec["env_kwargs"])
    parts = {role: key for role, key in (m.get("modules") or {}).items() if key}
    agent = make_agent(m["algo"], env_id, m["config"], seed=m["seed"], num_envs=m["num_envs"], device=device,
                       **parts)
    agent.load(path)
    return agent, m


def evaluate_checkpoint(run_dir: str | Path, episodes: int = 50, checkpoint: str | Path | None = None,
                        seed: int | None = None, env: Callable | None = None) -> dict[str, Any]:
    """Reload a run's saved agent and run ``episodes`` deterministic episodes.

    Args:
        run_dir: a run folder (``run.json`` + ``checkpoints/``).
        episodes: evaluation episodes (spread over up to 8 parallel envs).
        checkpoint: ``None`` (the final checkpoint), a file name in ``checkpoints/`` such as
            ``"step_5000.pt"``, or a path.
        seed: evaluation seed (default: the run's seed + 10000, as the trainer's own evaluation).
        env: the factory of a custom env that is not registered in this process.

    Returns:
        ``{"run_dir", "checkpoint", "episodes", "return_mean", "return_std", "returns"}``.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise RLCoreError(f"episodes {episodes!r} is not a positive integer; accepted: e.g. 50.")
    agent, _ = load_agent(run_dir, checkpoint, env=env)
    path = checkpoint_path(run_dir, checkpoint)
    result = agent.evaluate(episodes, seed=seed)
    if hasattr(agent.env, "close"):
        agent.env.close()
    return {"run_dir": str(run_dir), "checkpoint": str(path), "episodes": result["episodes"],
            "return_mean": result["return_mean"], "return_std": result["return_std"],
            "returns": result["returns"]}
