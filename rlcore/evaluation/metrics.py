"""Aggregate performance metrics over many runs and tasks, with bootstrap intervals.

Every metric takes a score matrix ``scores[run, task]`` (``[num_runs, num_tasks]``).
``mean``, ``median``, ``iqm`` and ``optimality_gap`` also take score curves
``scores[run, task, point]`` (``[num_runs, num_tasks, num_points]``) and then return
one value per point. The definitions follow Agarwal et al. (2021), "Deep RL at the
Edge of the Statistical Precipice":

- ``mean``/``median``: mean/median over tasks of the per-task mean over runs.
- ``iqm``: interquartile mean, the 25% trimmed mean over all runs x tasks pooled.
- ``optimality_gap``: how far scores fall short of ``gamma`` (scores above it count as it).
- ``probability_of_improvement``: P(X > Y) per task (ties count one half), averaged over tasks.
- ``performance_profile``: fraction of scores above each threshold.

``stratified_bootstrap_ci`` resamples runs with replacement inside each task and
reports percentile intervals for any of these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rlcore.errors import RLCoreError

ScoreInput = np.ndarray | Sequence[np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A point estimate with the lower and upper bounds of its confidence interval.

    All three arrays share the shape of the metric's output (``()`` for a scalar).
    """

    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def as_dict(self) -> dict[str, float | list[float]]:
        """Plain floats (or lists of floats) for JSON."""
        return {name: np.asarray(getattr(self, name)).tolist() for name in ("point", "lower", "upper")}


def _scores(scores: ScoreInput, name: str = "scores", curves: bool = False) -> np.ndarray:
    """``scores`` as a float array of shape [runs, tasks] (or [runs, tasks, points])."""
    arr = np.asarray(scores, dtype=np.float64)
    ndims = (2, 3) if curves else (2,)
    shapes = "[num_runs, num_tasks] or [num_runs, num_tasks, num_points]" if curves else "[num_runs, num_tasks]"
    if arr.ndim not in ndims or 0 in arr.shape:
        raise RLCoreError(f"{name} has shape {arr.shape}; accepted: a non-empty array of shape {shapes}.")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise RLCoreError(f"{name} contains {bad} NaN or infinite values; accepted: finite scores only.")
    return arr


def mean(scores: np.ndarray) -> np.ndarray | float:
    """Mean over tasks of the mean score over runs of each task."""
    arr = _scores(scores, curves=True)
    return np.mean(np.mean(arr, axis=0), axis=0)


def median(scores: np.ndarray) -> np.ndarray | float:
    """Median over tasks of the mean score over runs of each task."""
    arr = _scores(scores, curves=True)
    return np.median(np.mean(arr, axis=0), axis=0)


def iqm(scores: np.ndarray) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50% of all runs x tasks scores.

    With ``n`` pooled scores, the ``floor(n / 4)`` lowest and highest are dropped
    (as ``scipy.stats.trim_mean(..., 0.25)`` does); curves are trimmed per point.
    """
    arr = _scores(scores, curves=True)
    pooled = np.sort(arr.reshape(arr.shape[0] * arr.shape[1], -1), axis=0)
    cut = int(0.25 * pooled.shape[0])
    result = np.mean(pooled[cut : pooled.shape[0] - cut], axis=0)
    return result.reshape(arr.shape[2:]) if arr.ndim == 3 else float(result[0])


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> np.ndarray | float:
    """``gamma`` minus the mean over runs x tasks of ``min(score, gamma)``."""
    arr = _scores(scores, curves=True)
    if not np.isfinite(gamma):
        raise RLCoreError(f"gamma {gamma!r} is not finite; accepted: a finite threshold such as 1.0.")
    return gamma - np.mean(np.minimum(arr, gamma), axis=(0, 1))


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """Probability that a run of X beats a run of Y on the same task, averaged over tasks.

    Per task this is the Mann-Whitney U statistic of X over Y divided by
    ``num_runs_x * num_runs_y``: ``P(X > Y) + 0.5 * P(X == Y)``. X and Y may have
    different numbers of runs but must cover the same tasks.
    """
    x = _scores(scores_x, "scores_x")
    y = _scores(scores_y, "scores_y")
    if x.shape[1] != y.shape[1]:
        raise RLCoreError(
            f"scores_x has {x.shape[1]} tasks and scores_y has {y.shape[1]}; "
            "accepted: the same number of tasks (columns)."
        )
    diff = x[:, None, :] - y[None, :, :]  # [runs_x, runs_y, tasks]
    wins = (diff > 0).astype(np.float64) + 0.5 * (diff == 0)
    return float(np.mean(np.mean(wins, axis=(0, 1))))


def performance_profile(
    scores: np.ndarray, taus: Sequence[float] | np.ndarray, use_score_distribution: bool = True
) -> np.ndarray:
    """Fraction of scores strictly above each threshold in ``taus``.

    With ``use_score_distribution`` (the default, the "run-score distribution"), each
    run on each task counts once. Otherwise each task counts once, with its scores
    first averaged over runs (the "average-score distribution").
    """
    arr = _scores(scores)
    thresholds = np.asarray(taus, dtype=np.float64)
    if thresholds.ndim != 1 or thresholds.size == 0:
        raise RLCoreError(f"taus has shape {thresholds.shape}; accepted: a non-empty 1-D list of thresholds.")
    values = arr.reshape(-1) if use_score_distribution else np.mean(arr, axis=0)
    return np.mean(values[:, None] > thresholds[None, :], axis=0)


def _check_bootstrap_args(reps: int, alpha: float) -> None:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise RLCoreError(f"reps {reps!r} is not a positive integer; accepted: an integer >= 1 such as 2000.")
    if not 0.0 < alpha < 1.0:
        raise RLCoreError(f"alpha {alpha!r} is out of range; accepted: a number strictly between 0 and 1 such as 0.05.")


def _as_arrays(key: str, value: ScoreInput) -> list[np.ndarray]:
    """One algorithm's scores as a list of score arrays (one per metric argument)."""
    if isinstance(value, np.ndarray):
        return [_scores(value, f"scores[{key!r}]", curves=True)]
    if isinstance(value, (list, tuple)) and value and all(np.ndim(v) >= 2 for v in value):
        return [_scores(v, f"scores[{key!r}][{i}]", curves=True) for i, v in enumerate(value)]
    return [_scores(value, f"scores[{key!r}]", curves=True)]


def _resample(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``arr`` with the run of each task replaced by ``rows[run, task]``."""
    cols = np.arange(arr.shape[1])[None, :]
    return arr[rows, cols]


def _bootstrap_values(
    arrays: list[np.ndarray], metric_fn: Callable[..., object], reps: int, rng: np.random.Generator
) -> np.ndarray:
    """``metric_fn`` on ``reps`` stratified resamples; shape [reps, *metric shape]."""
    draws = [rng.integers(0, a.shape[0], size=(reps, a.shape[0], a.shape[1])) for a in arrays]
    values = [
        np.asarray(metric_fn(*(_resample(a, d[r]) for a, d in zip(arrays, draws))), dtype=np.float64)
        for r in range(reps)
    ]
    return np.stack(values)


def stratified_bootstrap_ci(
    scores_dict: Mapping[str, ScoreInput],
    metric_fn: Callable[..., object],
    reps: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Interval]:
    """Point estimates and percentile ``1 - alpha`` intervals of ``metric_fn`` per algorithm.

    Each value of ``scores_dict`` is a score array ``[runs, tasks(, points)]`` or a
    tuple of such arrays, passed to ``metric_fn`` as separate arguments (e.g. the X and
    Y scores of ``probability_of_improvement``), each resampled independently. A
    resample draws, for every task separately, ``num_runs`` runs with replacement from
    that task's runs (the stratified bootstrap), so every task keeps its weight.
    ``metric_fn`` may return a scalar or an array (one interval per element).

    Every algorithm is resampled by a generator seeded with ``seed`` alone, so its
    interval does not depend on which other algorithms are in ``scores_dict``.
    """
    _check_bootstrap_args(reps, alpha)
    if not scores_dict:
        raise RLCoreError("scores_dict is empty; accepted: a mapping of algorithm name to score array.")
    results: dict[str, Interval] = {}
    for key, value in scores_dict.items():
        arrays = _as_arrays(key, value)
        point = np.asarray(metric_fn(*arrays), dtype=np.float64)
        values = _bootstrap_values(arrays, metric_fn, reps, np.random.default_rng(seed))
        lower, upper = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
        results[key] = Interval(point=point, lower=np.asarray(lower), upper=np.asarray(upper))
    return results
