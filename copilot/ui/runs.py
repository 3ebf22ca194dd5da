"""Run folders on disk: listing, summaries, learning-curve plots and zip archives.

A run folder holds ``run.json`` (written when training finished), ``episodes.csv``
(``step,return,length``, written while training), ``progress.csv`` and ``curve.png``.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

TQDM_STEPS = re.compile(r"(\d[\d,]*)/(\d[\d,]*)\s*\[")


@dataclass(frozen=True)
class RunInfo:
    """What the Runs tab shows about one run folder."""

    name: str
    path: Path
    algo: str
    env: str
    steps: int | None
    eval_return: float | None
    wall_time_s: float | None
    finished: bool
    modified: float

    def row(self) -> list[Any]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        ret = "-" if self.eval_return is None else f"{self.eval_return:.1f}"
        wall = "-" if self.wall_time_s is None else f"{self.wall_time_s:.0f} s"
        return [self.name, self.algo, self.env, self.steps if self.steps is not None else "-", ret, wall,
                "finished" if self.finished else "unfinished", when]


ROW_HEADERS = ["run", "algo", "env", "steps", "eval return", "train time", "state", "modified"]


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run_info(run_dir: Path) -> RunInfo:
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    ev = manifest.get("eval") or {}
    files = [p.stat().st_mtime for p in run_dir.iterdir() if p.is_file()]
    stamp = max(files, default=run_dir.stat().st_mtime)
    return RunInfo(name=run_dir.name, path=run_dir, algo=str(manifest.get("algo", "?")),
                   env=str(manifest.get("env", "?")), steps=manifest.get("total_steps"),
                   eval_return=ev.get("return_mean"), wall_time_s=manifest.get("wall_time_s"),
                   finished=bool(manifest), modified=stamp)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "run.json").is_file() or (path / "episodes.csv").is_file())


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run folder directly under ``runs_dir`` (or one level deeper), newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    found: list[Path] = []
    for child in runs_dir.iterdir():
        if is_run_dir(child):
            found.append(child)
        elif child.is_dir():
            found.extend(g for g in child.iterdir() if is_run_dir(g))
    infos = [run_info(p) for p in found]
    return sorted(infos, key=lambda r: -r.modified)


def read_curve(run_dir: Path) -> tuple[list[int], list[float]]:
    """(steps, returns) from ``episodes.csv``; empty lists when there is none yet."""
    path = Path(run_dir) / "episodes.csv"
    steps: list[int] = []
    rets: list[float] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return steps, rets
    for line in lines[1:]:
        parts = line.split(",")
        try:
            step, ret = int(float(parts[0])), float(parts[1])
        except (IndexError, ValueError):
            continue  # a row still being written
        steps.append(step)
        rets.append(ret)
    return steps, rets


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over ``window`` values (shorter at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def mean_by_step(steps: Sequence[int], returns: Sequence[float]) -> tuple[list[int], list[float]]:
    """Episodes that ended at the same step (parallel envs) averaged into one point, by step."""
    groups: dict[int, list[float]] = {}
    for step, ret in zip(steps, returns):
        groups.setdefault(step, []).append(ret)
    xs = sorted(groups)
    return xs, [sum(groups[x]) / len(groups[x]) for x in xs]


def compare_figure(runs: Sequence[RunInfo]):
    """One matplotlib figure with the smoothed learning curve of every run in ``runs``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for run in runs:
        steps, rets = mean_by_step(*read_curve(run.path))
        if not steps:
            continue
        label = f"{run.name} ({run.algo}, {run.env})"
        ax.plot(steps, moving_average(rets, max(1, len(rets) // 20)), lw=2, label=label)
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return (moving average)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, "Select runs with recorded episodes to compare them.", ha="center",
                va="center", transform=ax.transAxes, color="#666")
    fig.tight_layout()
    plt.close(fig)
    return fig


def zip_run(run_dir: Path, out_dir: Path) -> Path:
    """``out_dir/<run name>.zip`` holding the run folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(run_dir)
    base = out_dir / run_dir.name
    return Path(shutil.make_archive(str(base), "zip", root_dir=run_dir.parent, base_dir=run_dir.name))


def parse_progress(line: str) -> tuple[int, int] | None:
    """``(step, total)`` from a tqdm progress line such as ``ppo CartPole-v1: 40%|.. | 400/1000 [..``."""
    found = TQDM_STEPS.findall(line)
    if not found:
        return None
    step, total = found[-1]
    return int(step.replace(",", "")), int(total.replace(",", ""))


def slug(text: str, limit: int = 32) -> str:
    """A folder-name-safe short form of ``text``."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (words[:limit].rstrip("-") or "run")
