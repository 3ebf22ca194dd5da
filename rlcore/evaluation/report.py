"""Evaluation report over rlcore run folders: tables (markdown + JSON) and plots.

A run folder holds ``run.json`` (with ``algo``, ``env``, ``seed``, ``total_steps`` and
``eval.return_mean``) and ``episodes.csv`` (``step,return,length``, one row per training
episode). Runs are grouped by algorithm and task (env). The score of a run is its
evaluation mean return; learning curves come from ``episodes.csv``, binned by step.

With more than one task (or with ``score_ranges`` given), scores are min-max
normalised per task so tasks weigh alike: ``(score - low) / (high - low)``, where
``low``/``high`` come from ``score_ranges`` or else are the lowest and highest
evaluation scores of any run on that task (a task where every run scored the same
maps to 1.0).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from rlcore.errors import RLCoreError
from rlcore.evaluation import metrics, plots

METRICS = {"IQM": metrics.iqm, "Median": metrics.median, "Mean": metrics.mean, "Optimality gap": metrics.optimality_gap}


@dataclass(frozen=True)
class RunRecord:
    """What the report needs from one run folder."""

    path: Path
    algo: str
    env: str
    seed: int | None
    score: float
    total_steps: int
    episodes: np.ndarray | None  # [num_episodes, 2]: finishing step, return


def find_run_dirs(paths: Sequence[Path | str]) -> list[Path]:
    """The given folders that hold ``run.json``, else the folders beneath them that do.

    A path with no ``run.json`` in or beneath it is kept, so that loading it reports why.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        beneath = [] if (path / "run.json").is_file() or not path.is_dir() else sorted(path.rglob("run.json"))
        found.extend([p.parent for p in beneath] or [path])
    return list(dict.fromkeys(found))


def _read_episodes(path: Path) -> tuple[np.ndarray | None, str | None]:
    """(step, return) rows of ``episodes.csv``, or None and the reason they are unusable."""
    file = path / "episodes.csv"
    if not file.is_file():
        return None, f"{path}: no episodes.csv, so this run has no learning curve."
    try:
        with file.open(newline="") as handle:
            rows = [(float(r["step"]), float(r["return"])) for r in csv.DictReader(handle)]
    except (KeyError, TypeError, ValueError):
        return None, (f"{path}: episodes.csv is not 'step,return,length' rows of numbers, "
                      "so this run has no learning curve.")
    if not rows:
        return None, f"{path}: episodes.csv has no episodes, so this run has no learning curve."
    return np.asarray(rows, dtype=np.float64), None


def load_run(path: Path) -> tuple[RunRecord | None, list[str]]:
    """The run in ``path`` and warnings about it; the record is None when the run is skipped."""
    if not (path / "run.json").is_file():
        return None, [f"{path}: skipped, no run.json in it or beneath it."]
    try:
        info = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as err:
        return None, [f"{path}: skipped, run.json cannot be read ({type(err).__name__})."]
    if not isinstance(info, dict) or not info.get("algo") or not info.get("env"):
        return None, [f"{path}: skipped, run.json lacks 'algo' or 'env'."]
    evaluation = info.get("eval") or {}
    score = evaluation.get("return_mean") if isinstance(evaluation, dict) else None
    if not isinstance(score, (int, float)) or not math.isfinite(score) or not evaluation.get("episodes", 1):
        return None, [f"{path}: skipped, run.json has no evaluation result (eval.return_mean)."]
    episodes, reason = _read_episodes(path)
    total = info.get("total_steps")
    if not isinstance(total, (int, float)) or total <= 0:
        total = float(episodes[:, 0].max()) if episodes is not None else 0
    seed = info.get("seed")
    record = RunRecord(path, str(info["algo"]), str(info["env"]), seed if isinstance(seed, int) else None,
                       float(score), int(total), episodes)
    return record, [reason] if reason else []


def _group(records: list[RunRecord]) -> dict[tuple[str, str], list[RunRecord]]:
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.algo, r.env, r.seed if r.seed is not None else math.inf, str(r.path))):
        groups.setdefault((rec.algo, rec.env), []).append(rec)
    return groups


def _score_ranges(
    records: list[RunRecord], given: Mapping[str, tuple[float, float]] | None
) -> dict[str, tuple[float, float]]:
    """Per task, (low, high) from ``given`` or else the lowest and highest score on it."""
    ranges: dict[str, tuple[float, float]] = {}
    for env, (low, high) in (given or {}).items():
        if not float(low) < float(high):
            raise RLCoreError(f"The score range ({low}, {high}) of task {env!r} is empty; accepted: (low, high) "
                              "with low < high.")
    for env in sorted({r.env for r in records}):
        scores = [r.score for r in records if r.env == env]
        ranges[env] = tuple(map(float, given[env])) if given and env in given else (min(scores), max(scores))
    return ranges


def _normalizer(mode: str, ranges: dict[str, tuple[float, float]]):
    def normalize(env: str, values: np.ndarray) -> np.ndarray:
        if mode == "none":
            return values
        low, high = ranges[env]
        return (values - low) / (high - low) if high > low else np.ones_like(values)

    return normalize


def _score_matrices(groups, algos, tasks, normalize, warnings) -> dict[str, np.ndarray]:
    """Per algorithm, a [runs, tasks] matrix; tasks with more runs keep their lowest seeds."""
    matrices = {}
    for algo in algos:
        counts = {env: len(groups[algo, env]) for env in tasks[algo]}
        n = min(counts.values())
        if len(set(counts.values())) > 1:
            sizes = sorted(set(counts.values()))
            warnings.append(f"{algo}: tasks have {sizes} runs; the first {n} (by seed) of each are used.")
        cols = [normalize(env, np.array([r.score for r in groups[algo, env][:n]])) for env in tasks[algo]]
        matrices[algo] = np.stack(cols, axis=1)
    return matrices


def _run_curve(rec: RunRecord, edges: np.ndarray) -> np.ndarray:
    """Mean return of the episodes finishing in each step bin, carried forward over empty bins.

    NaN before the first episode and in bins starting at or after the run's last step.
    """
    nbins = len(edges) - 1
    bins = np.clip(np.searchsorted(edges, rec.episodes[:, 0], side="left") - 1, 0, nbins - 1)
    counts = np.bincount(bins, minlength=nbins)
    sums = np.bincount(bins, weights=rec.episodes[:, 1], minlength=nbins)
    filled = np.maximum.accumulate(np.where(counts > 0, np.arange(nbins), 0))
    curve = np.where(np.cumsum(counts) > 0, sums[filled] / np.maximum(counts[filled], 1), np.nan)
    return np.where(edges[:-1] < max(rec.total_steps, rec.episodes[:, 0].max()), curve, np.nan)


def _curves(groups, algos, tasks, normalize, num_points: int):
    """Steps and per-algorithm [runs, tasks, points] curves on a shared step grid, or None.

    Algorithms with a task where no run has episode data are left out of the curves.
    """
    chosen = {a: [[r for r in groups[a, env] if r.episodes is not None] for env in tasks] for a in algos}
    chosen = {a: per_task for a, per_task in chosen.items() if all(per_task)}
    if not chosen:
        return None
    horizon = max(r.total_steps for per_task in chosen.values() for runs in per_task for r in runs)
    edges = np.linspace(0.0, float(horizon), num_points + 1)
    curves = {}
    for algo, per_task in chosen.items():
        n = min(len(runs) for runs in per_task)
        cols = [np.stack([normalize(env, _run_curve(r, edges)) for r in runs[:n]])
                for env, runs in zip(tasks, per_task)]
        curves[algo] = np.stack(cols, axis=1)
    keep = np.all([np.all(np.isfinite(c), axis=(0, 1)) for c in curves.values()], axis=0)
    if not keep.any():
        return None
    return edges[1:][keep], {a: c[:, :, keep] for a, c in curves.items()}


def _fmt(est: metrics.Interval) -> str:
    return f"{float(est.point):.3f} [{float(est.lower):.3f}, {float(est.upper):.3f}]"


def _count(items: Sequence, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _markdown(summary: dict) -> str:
    level = round(100 * (1 - summary["alpha"]))
    lines = ["# Evaluation report", "",
             f"{_count(summary['runs'], 'run')}, {_count(summary['algorithms'], 'algorithm')}, "
             f"{_count(summary['tasks'], 'task')}. "
             f"Score of a run: its evaluation mean return ({summary['normalization']}). "
             f"Intervals: {level}% stratified bootstrap over runs, {summary['reps']} resamples.", "",
             "## Evaluation return per task (raw)", "",
             "| algorithm | task | runs | mean | std over runs | min | max |", "|---|---|---|---|---|---|---|"]
    for row in summary["per_task"]:
        lines.append(f"| {row['algo']} | {row['env']} | {row['runs']} | {row['mean']:.3f} | {row['std']:.3f} "
                     f"| {row['min']:.3f} | {row['max']:.3f} |")
    names = list(next(iter(summary["metrics"].values()), {}))
    lines += ["", "## Aggregate metrics", "", "| algorithm | tasks | " + " | ".join(names) + " |",
              "|---|---|" + "---|" * len(names)]
    for algo, per in summary["metrics"].items():
        cells = " | ".join(_fmt(metrics.Interval(**per[m])) for m in names)
        lines.append(f"| {algo} | {len(summary['tasks_used'][algo])} | {cells} |")
    if summary["probability_of_improvement"]:
        lines += ["", "## Probability of improvement", "", "| X | Y | P(X > Y) |", "|---|---|---|"]
        for row in summary["probability_of_improvement"]:
            est = metrics.Interval(row["point"], row["lower"], row["upper"])
            lines.append(f"| {row['x']} | {row['y']} | {_fmt(est)} |")
    lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in summary["files"]["plots"]]
    if summary["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in summary["warnings"]]
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "task"


def _common_tasks(groups, algos, warnings) -> dict[str, list[str]]:
    """Per algorithm, the tasks it is aggregated over: those every algorithm ran, if any."""
    own = {a: sorted(env for (al, env) in groups if al == a) for a in algos}
    common = sorted(set.intersection(*(set(t) for t in own.values())))
    for algo in algos:
        extra = sorted(set(own[algo]) - set(common))
        if common and extra:
            warnings.append(f"{algo}: tasks {extra} are left out of the aggregates "
                            "because not every algorithm ran them.")
    if not common:
        warnings.append("No task was run by every algorithm, so each algorithm is aggregated over its own tasks.")
    return {a: common or own[a] for a in algos}


def _plots(out, groups, algos, tasks_used, matrices, normalize, opts, summary) -> list[Path]:
    reps, alpha, seed, num_points = opts
    files = [plots.plot_interval_estimates(
        {m: {a: metrics.Interval(**summary["metrics"][a][m]) for a in algos} for m in summary["metrics"][algos[0]]},
        out / "interval_estimates.png", xlabel="Normalized score" if summary["normalized"] else "Return", order=algos)]
    pooled = np.concatenate([m.ravel() for m in matrices.values()])
    taus = np.linspace(pooled.min(), pooled.max(), 41) if np.ptp(pooled) > 0 else pooled[:1] + np.linspace(-1, 1, 41)
    profile_fn = lambda s: metrics.performance_profile(s, taus)  # noqa: E731
    profiles = metrics.stratified_bootstrap_ci(matrices, profile_fn, reps, alpha, seed)
    files.append(plots.plot_performance_profiles(profiles, taus, out / "performance_profiles.png", order=algos))
    ylabel = "IQM normalized return" if summary["normalized"] else "IQM return"
    shared = tasks_used[algos[0]]
    panels = {"All tasks": shared} if len(shared) > 1 and all(tasks_used[a] == shared for a in algos) else {}
    panels.update({env: [env] for env in summary["tasks"]})
    for name, envs in panels.items():
        members = [a for a in algos if all((a, e) in groups for e in envs)]
        built = _curves(groups, members, envs, normalize, num_points)
        if built is None:
            summary["warnings"].append(f"No learning curve for {name}: its runs lack usable episodes.csv data.")
            continue
        steps, curves = built
        ci = metrics.stratified_bootstrap_ci(curves, metrics.iqm, reps, alpha, seed)
        single = name == "All tasks" or len(summary["tasks"]) == 1
        fname = "sample_efficiency.png" if single else f"sample_efficiency_{_slug(name)}.png"
        files.append(plots.plot_sample_efficiency(steps, ci, out / fname, ylabel=ylabel, title=name, order=algos))
    return files


def _load_records(run_dirs: Sequence[Path | str], warnings: list[str]) -> list[RunRecord]:
    records: list[RunRecord] = []
    for path in find_run_dirs(run_dirs):
        rec, notes = load_run(path)
        warnings.extend(notes)
        records += [rec] if rec else []
    if not records:
        raise RLCoreError(f"None of the {len(run_dirs)} given paths holds a run with evaluation results; "
                          "accepted: run folders whose run.json has eval.return_mean.")
    return records


def _pairwise_improvement(algos, tasks_used, matrices, boot) -> list[dict]:
    """P(X > Y) with its interval for every pair of algorithms aggregated over the same tasks."""
    rows = []
    for x, y in combinations(algos, 2):
        if tasks_used[x] == tasks_used[y]:
            pair = {"": (matrices[x], matrices[y])}
            est = metrics.stratified_bootstrap_ci(pair, metrics.probability_of_improvement, *boot)[""]
            rows.append({"x": x, "y": y, **est.as_dict()})
    return rows


def _per_task(groups) -> list[dict]:
    rows = []
    for (algo, env), runs in groups.items():
        s = np.array([r.score for r in runs])
        rows.append({"algo": algo, "env": env, "runs": len(runs), "mean": float(s.mean()), "std": float(s.std()),
                     "min": float(s.min()), "max": float(s.max())})
    return rows


NORMALIZATION = {"none": "raw returns", "given": "normalized per task by the given score ranges",
                 "observed": "normalized per task by the lowest and highest score seen on it"}


def report(
    run_dirs: list[Path],
    out: Path,
    reps: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    score_ranges: Mapping[str, tuple[float, float]] | None = None,
    num_points: int = 40,
) -> dict:
    """Read run folders, write ``report.md``, ``report.json`` and PNG plots to ``out``; return the summary.

    Folders without ``run.json`` are searched for run folders beneath them. Runs with
    no evaluation result are skipped and named in ``summary["warnings"]``. Intervals
    are ``1 - alpha`` stratified bootstrap intervals over ``reps`` resamples; learning
    curves are binned into ``num_points`` step bins.
    """
    if num_points < 2:
        raise RLCoreError(f"num_points {num_points!r} is too small; accepted: an integer >= 2 such as 40.")
    warnings: list[str] = []
    records = _load_records(run_dirs, warnings)
    groups = _group(records)
    algos, envs = sorted({r.algo for r in records}), sorted({r.env for r in records})
    mode = "given" if score_ranges else ("observed" if len(envs) > 1 else "none")
    normalize = _normalizer(mode, _score_ranges(records, score_ranges))
    if score_ranges:
        warnings += [f"Task {env!r} has no given score range, so its observed range is used."
                     for env in envs if env not in score_ranges]
    tasks_used = _common_tasks(groups, algos, warnings)
    matrices = _score_matrices(groups, algos, tasks_used, normalize, warnings)
    if any(m.shape[0] < 2 for m in matrices.values()):
        warnings.append("Some algorithm has a single run per task, so its intervals have zero width.")
    chosen = {k: v for k, v in METRICS.items() if mode != "none" or k != "Optimality gap"}
    estimates = {k: metrics.stratified_bootstrap_ci(matrices, fn, reps, alpha, seed) for k, fn in chosen.items()}
    summary = {
        "runs": [{"path": str(r.path), "algo": r.algo, "env": r.env, "seed": r.seed, "score": r.score}
                 for r in records],
        "algorithms": algos, "tasks": envs, "tasks_used": tasks_used,
        "normalized": mode != "none", "normalization": NORMALIZATION[mode],
        "reps": reps, "alpha": alpha, "seed": seed, "per_task": _per_task(groups),
        "metrics": {a: {k: estimates[k][a].as_dict() for k in chosen} for a in algos},
        "probability_of_improvement": _pairwise_improvement(algos, tasks_used, matrices, (reps, alpha, seed)),
        "warnings": warnings,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = _plots(out, groups, algos, tasks_used, matrices, normalize, (reps, alpha, seed, num_points), summary)
    summary["files"] = {"markdown": str(out / "report.md"), "json": str(out / "report.json"),
                        "plots": [str(p) for p in files]}
    (out / "report.md").write_text(_markdown(summary))
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    return summary
