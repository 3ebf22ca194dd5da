"""Checks the CLI makes before it starts anything: sizes in range, run files readable.

A size out of range (``--num-envs 100000``, a 10^10-entry replay buffer) is refused before
any env or network is built, in one sentence with the accepted range. A run folder's
``run.json`` and checkpoint are read and checked before an agent is rebuilt from them, so a
corrupt or truncated file ends in one sentence naming that file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from rlcore.errors import RLCoreError

MAX_STEPS = 1_000_000_000
MAX_SEED = 2**32 - 1
MAX_EPISODES = 100_000
NUM_ENVS = {"gym": 1024, "gym-async": 64, "torch": 65_536}  # gym-async runs one process per env
ROLLOUT_MAX = 50_000_000  # n_steps x num_envs transitions held by on-policy storage
CONFIG_RANGES = {  # config field -> (low, high) for the sizes that allocate memory or loop
    "buffer_size": (1, 20_000_000), "batch_size": (1, 1_000_000), "n_steps": (1, 1_000_000),
    "n_epochs": (1, 10_000), "gradient_steps": (1, 100_000), "train_freq": (1, 10_000_000),
    "learning_starts": (0, MAX_STEPS), "image_size": (8, 1024), "image_channels": (1, 16),
    "frame_stack": (1, 64), "feature_dim": (1, 65_536), "n_step": (1, 10_000),
    "action_repeat": (1, 1000), "target_update_interval": (1, MAX_STEPS), "policy_delay": (1, 10_000),
}
HIDDEN_MAX = (16, 65_536)  # layers, units per layer
RUN_KEYS = ("algo", "env", "config", "seed", "num_envs", "checkpoint")


def in_range(name: str, value: int | float, low: int | float, high: int | float) -> None:
    if not low <= value <= high:
        raise RLCoreError(f"{name} must be between {low:,} and {high:,}; got {value:,}.")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # not a number: the config parser names the bad value


def _hidden(value: Any) -> list[float] | None:
    items = value.replace("(", "").replace(")", "").split(",") if isinstance(value, str) else value
    try:
        return [float(x) for x in items if str(x).strip()]
    except (TypeError, ValueError):
        return None


def check_config_sizes(config: dict[str, Any], num_envs: int | None) -> None:
    """Refuse config sizes (given as strings or numbers) outside :data:`CONFIG_RANGES`."""
    for name, raw in config.items():
        if name in CONFIG_RANGES:
            value = _number(raw)
            if value is not None:
                in_range(f"Config field {name!r}", int(value) if value.is_integer() else value,
                         *CONFIG_RANGES[name])
        elif name == "hidden":
            widths = _hidden(raw)
            if widths is not None:
                in_range("The number of hidden layers", len(widths), 0, HIDDEN_MAX[0])
                for width in widths:
                    in_range("Each hidden layer width", int(width), 1, HIDDEN_MAX[1])
    n_steps = _number(config.get("n_steps"))
    if n_steps is not None and num_envs:
        in_range("n_steps x num_envs (transitions per rollout)", int(n_steps) * num_envs, 1, ROLLOUT_MAX)


def check_train_sizes(steps: int, seed: int, num_envs: int | None, backend: str, eval_episodes: int,
                      eval_every: int, checkpoint_every: int, config: dict[str, Any]) -> None:
    """Every size of ``rlcore train`` in range, checked before anything is built."""
    in_range("--steps", steps, 1, MAX_STEPS)
    in_range("--seed", seed, 0, MAX_SEED)
    if num_envs is not None:
        high = NUM_ENVS.get(backend, NUM_ENVS["gym"])
        if not 1 <= num_envs <= high:
            raise RLCoreError(f"--num-envs must be between 1 and {high:,} with the {backend!r} backend; "
                              f"got {num_envs:,}.")
    in_range("--eval-episodes", eval_episodes, 0, MAX_EPISODES)
    in_range("--eval-every", eval_every, 0, MAX_STEPS)
    in_range("--checkpoint-every", checkpoint_every, 0, MAX_STEPS)
    check_config_sizes(config, num_envs)


def read_run_json(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's run.json, checked to hold what rebuilding its agent needs."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file():
        raise RLCoreError(f"{str(run_dir)!r} is not a run folder (no run.json found).")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RLCoreError(f"{str(path)!r} cannot be read as JSON ({type(exc).__name__}); accepted: a "
                          "run.json written by the trainer.") from None
    if not isinstance(manifest, dict):
        raise RLCoreError(f"{str(path)!r} holds a JSON {type(manifest).__name__}, not the object the "
                          "trainer writes.")
    missing = [key for key in RUN_KEYS if key not in manifest]
    if missing:
        raise RLCoreError(f"{str(path)!r} lacks {', '.join(map(repr, missing))}; it needs "
                          f"{', '.join(RUN_KEYS)}.")
    if not isinstance(manifest["config"], dict) or not isinstance(manifest["checkpoint"], str):
        raise RLCoreError(f"{str(path)!r} has a malformed 'config' or 'checkpoint' entry.")
    return manifest


def check_checkpoint(path: str | Path) -> Path:
    """``path`` if it is a complete PyTorch checkpoint file (a whole zip archive)."""
    path = Path(path)
    if not path.is_file():
        raise RLCoreError(f"Checkpoint {str(path)!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        broken = "the archive"
    if broken is not None:
        raise RLCoreError(f"Checkpoint {str(path)!r} is truncated or corrupt ({broken} cannot be read); "
                          "accepted: a complete file written by agent.save() or the trainer.")
    return path


def check_run_dir(run_dir: str | Path) -> dict[str, Any]:
    """run.json and its checkpoint both readable; returns run.json."""
    manifest = read_run_json(run_dir)
    check_checkpoint(Path(run_dir) / manifest["checkpoint"])
    return manifest


def unreadable_runs(paths: list[str | Path]) -> list[str]:
    """One sentence for each run.json under ``paths`` that cannot be read."""
    found: list[str] = []
    for base in map(Path, paths):
        candidates = [base / "run.json"] if (base / "run.json").is_file() else sorted(base.rglob("run.json"))
        for run_json in candidates[:1000]:
            try:
                read_run_json(run_json.parent)
            except RLCoreError as exc:
                found.append(str(exc))
    return found
