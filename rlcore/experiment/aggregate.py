"""The experiment's report: per-group scores with stratified bootstrap CIs, the probability
of improvement between groups, a verdict sentence, learning curves with CI bands, and
``report.md`` / ``report.json``.

The score of a run is its final deterministic evaluation return. With several tasks (envs)
in a group, scores are min-max normalised per task over every finished run of the
experiment, as ``rlcore report`` does, so an aggregate across tasks weighs them alike.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from rlcore.evaluation import metrics
from rlcore.evaluation.report import _run_curve, load_run

METRIC_FNS = {"iqm": metrics.iqm, "mean": metrics.mean}
METRIC_NAMES = {"iqm": "IQM", "mean": "mean"}
NUM_POINTS = 40


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e5 else f"{x:.0f}"


def _tables(runs: list[dict]) -> tuple[dict[str, list[str]], dict[str, dict[str, list[dict]]]]:
    """(group -> its tasks in order, group -> task -> finished runs sorted by seed)."""
    group_tasks: dict[str, list[str]] = {}
    for r in runs:
        tasks = group_tasks.setdefault(r["group"], [])
        tasks += [] if r["task"] in tasks else [r["task"]]
    table: dict[str, dict[str, list[dict]]] = {g: {} for g in group_tasks}
    for r in sorted(runs, key=lambda r: r["seed"]):
        if r["state"] in ("done", "skipped"):
            table[r["group"]].setdefault(r["task"], []).append(r)
    return group_tasks, table


def _normalizer(table, tasks, normalized: bool):
    """Per-task min-max normalisation over every finished run (identity when no group has two tasks)."""
    if not normalized:
        return lambda task, values: np.asarray(values, dtype=np.float64)
    ranges = {}
    for task in tasks:
        scores = [r["score"] for per in table.values() for r in per.get(task, [])]
        ranges[task] = (min(scores), max(scores)) if scores else (0.0, 1.0)

    def normalize(task, values):
        low, high = ranges[task]
        values = np.asarray(values, dtype=np.float64)
        return (values - low) / (high - low) if high > low else np.ones_like(values)
    return normalize


def _matrices(table, group_tasks, normalize) -> dict[str, np.ndarray]:
    """Group -> [runs, tasks] score matrix; groups with a task no run finished are left out."""
    out = {}
    for group, per in table.items():
        tasks = group_tasks[group]
        if not all(per.get(t) for t in tasks):
            continue
        n = min(len(per[t]) for t in tasks)
        out[group] = np.stack([normalize(t, [r["score"] for r in per[t][:n]]) for t in tasks], axis=1)
    return out


def _verdict(estimates: dict, improvement: list[dict], metric: str, normalized: bool, failed: int,
             total: int) -> str:
    name = METRIC_NAMES[metric] + (" normalized score" if normalized else "")
    tail = f" {failed} of {total} runs failed." if failed else ""
    if not estimates:
        return f"No run finished ({failed} of {total} failed), so there is nothing to compare."
    ranked = sorted(estimates, key=lambda g: -estimates[g]["point"])
    fmt = lambda g: f"{_num(estimates[g]['point'])} [{_num(estimates[g]['lower'])}, {_num(estimates[g]['upper'])}]"  # noqa: E731
    if len(ranked) == 1:
        g = ranked[0]
        return f"{g} scored {name} {fmt(g)} over {estimates[g]['runs']} runs.{tail}"
    if not improvement:
        each = "; ".join(f"{g} {name} {fmt(g)}" for g in ranked)
        return f"The groups ran different envs, so they are not compared: {each}.{tail}"
    best, second = ranked[:2]
    prob = next(p["probability"] for p in improvement if p["x"] == best and p["y"] == second)
    odds = f"P({best} > {second}) = {prob:.2f}."
    if estimates[best]["lower"] > estimates[second]["upper"]:
        lead = "the best of all groups; " if len(ranked) > 2 else ""
        return f"{best} scored higher than {second} ({lead}{name} {fmt(best)} vs {fmt(second)}); {odds}{tail}"
    return (f"No clear winner: the intervals of {best} ({name} {fmt(best)}) and {second} ({fmt(second)}) "
            f"overlap; {odds}{tail}")


def _improvement(matrices: dict[str, np.ndarray], order: list[str], group_tasks) -> list[dict]:
    """P(X > Y) for every pair of groups that ran the same tasks (empty when no two did)."""
    rows = []
    for x, y in combinations(order, 2):
        if group_tasks[x] != group_tasks[y]:
            return []
        p = metrics.probability_of_improvement(matrices[x], matrices[y])
        if p < 0.5:
            x, y, p = y, x, 1.0 - p
        rows.append({"x": x, "y": y, "probability": round(float(p), 4)})
    return rows


def _curves(table, matrices, group_tasks, normalize):
    """Shared step grid and group -> [runs, tasks, points] normalised learning curves, or None."""
    records = {g: {t: [load_run(Path(r["run_dir"]))[0] for r in table[g][t]] for t in group_tasks[g]}
               for g in matrices}
    records = {g: {t: [rec for rec in recs if rec is not None and rec.episodes is not None]
                   for t, recs in per.items()} for g, per in records.items()}
    records = {g: per for g, per in records.items() if all(per.values())}
    if not records:
        return None
    horizon = max(rec.total_steps for per in records.values() for recs in per.values() for rec in recs)
    edges = np.linspace(0.0, float(horizon), NUM_POINTS + 1)
    curves = {}
    for g, per in records.items():
        n = min(len(recs) for recs in per.values())
        cols = [np.stack([normalize(t, _run_curve(rec, edges)) for rec in per[t][:n]]) for t in per]
        curves[g] = np.stack(cols, axis=1)
    keep = np.all([np.all(np.isfinite(c), axis=(0, 1)) for c in curves.values()], axis=0)
    if not keep.any():
        return None
    return edges[1:][keep], {g: c[:, :, keep] for g, c in curves.items()}


def _plot(out: Path, table, matrices, group_tasks, normalize, metric, boot, order) -> Path | None:
    from rlcore.evaluation.plots import plot_sample_efficiency

    built = _curves(table, matrices, group_tasks, normalize)
    if built is None:
        return None
    steps, curves = built
    ci = metrics.stratified_bootstrap_ci(curves, METRIC_FNS[metric], *boot)
    tasks = list(dict.fromkeys(t for g in curves for t in group_tasks[g]))
    several = max(len(group_tasks[g]) for g in curves) > 1
    ylabel = f"{METRIC_NAMES[metric]} {'normalized score' if several else 'episode return'}"
    title = "Learning curves" + (f" across {len(tasks)} tasks" if several else
                                 f" on {tasks[0]}" if len(tasks) == 1 else "")
    return plot_sample_efficiency(steps, ci, out / "curves.png", ylabel=ylabel, title=title,
                                  order=[g for g in order if g in ci])


def aggregate(runs: list[dict], out: Path, metric: str = "iqm", reps: int = 2000, alpha: float = 0.05,
              seed: int = 0) -> tuple[dict[str, Any], dict[str, str]]:
    """(report, artifacts) for the experiment's runs, writing curves.png, report.md, report.json.

    Each run dict carries ``group``, ``task``, ``seed``, ``state``, ``run_dir`` and, when it
    finished, ``score`` (its evaluation return).
    """
    out.mkdir(parents=True, exist_ok=True)
    group_tasks, table = _tables(runs)
    groups = list(group_tasks)
    tasks = list(dict.fromkeys(t for ts in group_tasks.values() for t in ts))
    normalized = any(len(ts) > 1 for ts in group_tasks.values())
    normalize = _normalizer(table, tasks, normalized)
    matrices = _matrices(table, group_tasks, normalize)
    boot = (reps, alpha, seed)
    estimates = {}
    if matrices:
        ci = metrics.stratified_bootstrap_ci(matrices, METRIC_FNS[metric], *boot)
        for g in groups:
            if g in ci:
                estimates[g] = {**{k: round(float(v), 6) for k, v in ci[g].as_dict().items()},
                                "runs": int(matrices[g].size)}
    order = [g for g in groups if g in estimates]
    improvement = _improvement(matrices, order, group_tasks)
    failed = sum(r["state"] == "failed" for r in runs)
    report = {
        "metric": metric, "confidence": 1 - alpha, "normalized": normalized, "tasks": tasks,
        "groups": estimates,
        "best": max(order, key=lambda g: estimates[g]["point"]) if len(order) == 1 or improvement else None,
        "verdict": _verdict(estimates, improvement, metric, normalized, failed, len(runs)),
        "improvement": improvement,
        "runs_total": len(runs), "runs_finished": sum(r["state"] in ("done", "skipped") for r in runs),
        "runs_failed": failed,
        "failures": [{"label": r["label"], "seed": r["seed"], "run_dir": r["run_dir"], "error": r.get("error")}
                     for r in runs if r["state"] == "failed"],
        "per_task": {g: {t: _task_row(table[g].get(t, [])) for t in group_tasks[g]} for g in groups},
    }
    plot = _plot(out, table, matrices, group_tasks, normalize, metric, boot, order) if matrices else None
    artifacts = {"plot": str(plot) if plot else None, "report": str(out / "report.md"),
                 "report_json": str(out / "report.json")}
    from rlcore.experiment.markdown import render

    (out / "report.md").write_text(render(report, runs, artifacts))
    (out / "report.json").write_text(json.dumps({"report": report, "artifacts": artifacts, "runs": [
        {k: r.get(k) for k in ("label", "group", "task", "seed", "state", "score", "run_dir", "error")}
        for r in runs]}, indent=2) + "\n")
    return report, artifacts


def _task_row(runs: list[dict]) -> dict[str, Any]:
    scores = [r["score"] for r in runs]
    return {"runs": len(scores), "mean": float(np.mean(scores)) if scores else None,
            "std": float(np.std(scores)) if scores else None}
