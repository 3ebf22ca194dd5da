"""Learning-curve PNG for a run folder (episode returns and their moving average)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def read_episodes(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, returns) from ``episodes.csv``."""
    path = Path(run_dir) / "episodes.csv"
    steps, rets = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            steps.append(int(row["step"]))
            rets.append(float(row["return"]))
    return np.asarray(steps), np.asarray(rets)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (shorter windows at the start)."""
    if len(values) == 0:
        return values
    c = np.cumsum(np.insert(values.astype(np.float64), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw ``curve.png`` in the run folder and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    steps, rets = read_episodes(run_dir)
    manifest = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    if len(steps):
        ax.plot(steps, rets, ".", color="#9ecae1", markersize=3, label="episode return")
        ax.plot(steps, smooth(rets, max(1, len(rets) // 20)), color="#08519c", lw=2, label="moving average")
    ev = manifest.get("eval") or {}
    if ev.get("return_mean") is not None:
        ax.axhline(ev["return_mean"], color="#d95f02", ls="--", lw=1.5,
                   label=f"final eval {ev['return_mean']:.1f}")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(f"{manifest.get('algo', '?')} on {manifest.get('env', '?')}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a run too short to finish an episode has nothing to label
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(out) if out else run_dir / "curve.png"
    fig.savefig(path)
    plt.close(fig)
    return path
