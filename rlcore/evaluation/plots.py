"""PNG plots of aggregate metrics: interval estimates, performance profiles, sample efficiency.

Figures are drawn on ``matplotlib.figure.Figure`` objects and saved through the Agg
canvas, so no GUI backend is needed and the global pyplot state is never touched.
matplotlib is imported when a plot is drawn, not when this module is imported.
Colours come from the Okabe-Ito palette, which stays distinct under the common
forms of colour blindness; lines also differ by marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlcore.errors import RLCoreError
from rlcore.evaluation.metrics import Interval

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def styles_for(names: Sequence[str], order: Sequence[str] | None = None) -> dict[str, tuple[str, str]]:
    """A (colour, marker) per name, assigned by position in ``order`` and then in ``names``.

    Passing the same ``order`` to every plot keeps an algorithm's look the same in all of them.
    """
    ranked = list(dict.fromkeys([*(order or []), *names]))
    return {n: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, n in enumerate(ranked) if n in names}


def _new_figure(width: float, height: float, nrows: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, 1, i + 1) for i in range(nrows)]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(True, alpha=0.3, linewidth=0.6)
    return fig, axes


def _save(fig: Any, path: Path | str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=120)
    return out


def _require(mapping: Mapping[str, Any], what: str) -> None:
    if not mapping:
        raise RLCoreError(f"No {what} to plot; accepted: a mapping with at least one algorithm.")


def plot_interval_estimates(
    estimates: Mapping[str, Mapping[str, Interval]],
    path: Path | str,
    xlabel: str = "Score",
    title: str | None = None,
    order: Sequence[str] | None = None,
) -> Path:
    """One row per metric; in each, a bar spanning each algorithm's interval with a tick at its point.

    ``estimates`` maps metric name -> algorithm name -> scalar ``Interval``;
    ``order`` fixes each algorithm's colour (see ``styles_for``). Returns the path of
    the written PNG.
    """
    _require(estimates, "metrics")
    algos = list(dict.fromkeys(a for per_algo in estimates.values() for a in per_algo))
    styles = styles_for(algos, order)
    fig, axes = _new_figure(7.0, 0.5 + len(estimates) * (0.45 * len(algos) + 0.9), nrows=len(estimates))
    for ax, (metric, per_algo) in zip(axes, estimates.items()):
        for row, algo in enumerate(algos):
            if algo not in per_algo:
                continue
            est = per_algo[algo]
            lo, hi, pt = float(est.lower), float(est.upper), float(est.point)
            ax.barh(row, hi - lo, left=lo, height=0.6, color=styles[algo][0], alpha=0.75)
            ax.vlines(pt, row - 0.3, row + 0.3, colors="black", linewidth=2)
        ax.use_sticky_edges = False
        ax.margins(x=0.05)
        ax.set_yticks(range(len(algos)), labels=algos)
        ax.set_ylim(-0.6, len(algos) - 0.4)
        ax.invert_yaxis()
        ax.set_title(metric, loc="left", fontsize=11)
        ax.set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _band_plot(
    x: np.ndarray,
    curves: Mapping[str, Interval],
    path: Path | str,
    labels: tuple[str, str, str | None],
    order: Sequence[str] | None,
) -> Path:
    """Lines with shaded interval bands, one per algorithm, on a single axis."""
    fig, (ax,) = _new_figure(7.0, 4.5)
    styles = styles_for(list(curves), order)
    every = max(1, len(x) // 10)
    for algo, est in curves.items():
        color, marker = styles[algo]
        point = np.asarray(est.point, dtype=np.float64)
        if point.shape != x.shape:
            raise RLCoreError(
                f"The curve of {algo!r} has {point.size} points but there are {x.size} x values; "
                "accepted: one value per x."
            )
        ax.fill_between(x, est.lower, est.upper, color=color, alpha=0.2, linewidth=0)
        ax.plot(x, point, color=color, label=algo, marker=marker, markevery=every, linewidth=2)
    xlabel, ylabel, title = labels
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return _save(fig, path)


def plot_performance_profiles(
    profiles: Mapping[str, Interval],
    taus: Sequence[float] | np.ndarray,
    path: Path | str,
    xlabel: str = "Score threshold τ",
    ylabel: str = "Fraction of runs with score > τ",
    title: str | None = None,
    order: Sequence[str] | None = None,
) -> Path:
    """Performance profiles (fraction above each threshold) with interval bands, one line per algorithm."""
    _require(profiles, "performance profiles")
    return _band_plot(np.asarray(taus, dtype=np.float64), profiles, path, (xlabel, ylabel, title), order)


def plot_sample_efficiency(
    steps: Sequence[float] | np.ndarray,
    curves: Mapping[str, Interval],
    path: Path | str,
    xlabel: str = "Environment steps",
    ylabel: str = "IQM return",
    title: str | None = None,
    order: Sequence[str] | None = None,
) -> Path:
    """Sample-efficiency curves (an aggregate score per step) with interval bands, one line per algorithm."""
    _require(curves, "sample-efficiency curves")
    return _band_plot(np.asarray(steps, dtype=np.float64), curves, path, (xlabel, ylabel, title), order)
