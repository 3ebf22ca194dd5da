"""Run folders on disk: listing, summaries, learning-curve plots and zip archives.

A run folder holds ``run.json`` (written when training finished), ``episodes.csv``
(``step,return,length``, written while training), ``progress.csv`` and ``curve.png``.

A live run's script writes into its folder while the UI reads it, so every file is opened
without following links and without blocking (a FIFO), accepted only as a regular file and
read up to a size cap; archives hold regular files only.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

TQDM_STEPS = re.compile(r"(\d[\d,]*)/(\d[\d,]*)\s*\[")
READ_CAP = 16 * 2**20  # run.json / episodes.csv larger than this are not read
ZIP_CAP = 4 * 2**30  # the most a run folder's archive may hold
UNREADABLE = {"state": "unreadable: run.json is not a regular JSON file under 16 MB"}


class ArchiveTooLarge(ValueError):
    """A run folder holds more than :data:`ZIP_CAP` bytes of regular files."""


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
    unreadable: bool = False

    def row(self) -> list[Any]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        ret = "-" if self.eval_return is None else f"{self.eval_return:.1f}"
        wall = "-" if self.wall_time_s is None else f"{self.wall_time_s:.0f} s"
        state = "unreadable" if self.unreadable else "finished" if self.finished else "unfinished"
        return [self.name, self.algo, self.env, self.steps if self.steps is not None else "-", ret, wall,
                state, when]


ROW_HEADERS = ["run", "algo", "env", "steps", "eval return", "train time", "state", "modified"]


def read_regular(path: Path, cap: int = READ_CAP) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device) under ``cap``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(cap + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= cap else None


def is_regular(path: Path) -> bool:
    """Whether ``path`` itself (not a link's target) is a regular file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def load_manifest(run_dir: Path) -> dict[str, Any] | None:
    """run.json as a dict; ``{}`` when there is none; None when it exists but cannot be read."""
    path = Path(run_dir) / "run.json"
    if not os.path.lexists(path):
        return {}
    raw = read_regular(path)
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (ValueError, RecursionError):  # json raises RecursionError on deep nesting
        return None
    return data if isinstance(data, dict) else None


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """run.json as a dict, ``{}`` when it is missing or cannot be read safely."""
    return load_manifest(run_dir) or {}


def run_info(run_dir: Path) -> RunInfo:
    run_dir = Path(run_dir)
    loaded = load_manifest(run_dir)
    manifest = loaded or {}
    ev = manifest.get("eval") if isinstance(manifest.get("eval"), dict) else {}
    stamps = []
    for entry in os.scandir(run_dir):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:  # removed meanwhile
            continue
        if stat.S_ISREG(st.st_mode):
            stamps.append(st.st_mtime)
    stamp = max(stamps, default=run_dir.lstat().st_mtime)
    return RunInfo(name=run_dir.name, path=run_dir, algo=str(manifest.get("algo", "?")),
                   env=str(manifest.get("env", "?")), steps=_number(manifest.get("total_steps")),
                   eval_return=_number(ev.get("return_mean")),
                   wall_time_s=_number(manifest.get("wall_time_s")),
                   finished=bool(manifest), modified=stamp, unreadable=loaded is None)


def _number(value: Any) -> Any:
    """``value`` if it is a number (a hostile run.json may hold anything), else None."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


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
    infos = []
    for path in found:
        try:
            infos.append(run_info(path))
        except OSError:  # removed while listing
            continue
    return sorted(infos, key=lambda r: -r.modified)


def read_curve(run_dir: Path) -> tuple[list[int], list[float]]:
    """(steps, returns) from ``episodes.csv``; empty lists when there is none yet."""
    path = Path(run_dir) / "episodes.csv"
    steps: list[int] = []
    rets: list[float] = []
    try:
        lines = (read_regular(path) or b"").decode("utf-8", "replace").splitlines()
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


def _regular_files(run_dir: Path) -> list[tuple[Path, int | None]]:
    """(path, size) of every folder (size None) and regular file under ``run_dir``; links and
    special files left out."""
    found: list[tuple[Path, int | None]] = []
    pending = [run_dir]
    while pending:  # iterative: a deep tree needs no recursion
        folder = pending.pop()
        found.append((folder, None))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                pending.append(Path(entry.path))
            elif stat.S_ISREG(st.st_mode):
                found.append((Path(entry.path), st.st_size))
    return found


def _add_file(zf: zipfile.ZipFile, path: Path, name: str) -> None:
    """Store ``path`` if it is still a regular file when opened (not swapped for a link or FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        with zf.open(name, "w", force_zip64=True) as out:
            while chunk := fh.read(2**20):
                out.write(chunk)


def zip_run(run_dir: Path, out_dir: Path) -> Path:
    """``out_dir/<run name>.zip`` holding the run folder's regular files (links and FIFOs left out).

    Raises :class:`ArchiveTooLarge` (one sentence) when they add up to more than :data:`ZIP_CAP`.
    """
    run_dir = Path(run_dir)
    files = _regular_files(run_dir)
    total = sum(size or 0 for _, size in files)
    if total > ZIP_CAP:
        raise ArchiveTooLarge(f"Run folder {run_dir.name!r} holds {total / 2**30:.1f} GB, more than the "
                              f"{ZIP_CAP // 2**30} GB a download may hold; copy it from {run_dir} instead.")
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{run_dir.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, size in files:
            rel = path.relative_to(run_dir).as_posix()
            name = run_dir.name if rel == "." else f"{run_dir.name}/{rel}"
            if size is None:
                zf.writestr(zipfile.ZipInfo(name + "/"), b"")
            else:
                _add_file(zf, path, name)
    return archive


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
