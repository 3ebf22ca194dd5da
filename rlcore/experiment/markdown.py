"""``report.md`` of an experiment: the verdict, a table per group, the runs, failures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def render(report: dict, runs: list[dict], artifacts: dict) -> str:
    level = round(100 * report["confidence"])
    name = {"iqm": "IQM", "mean": "Mean"}[report["metric"]]
    what = "normalized score (per task, min-max over all runs)" if report["normalized"] else "evaluation return"
    lines = ["# Experiment report", "", report["verdict"], "",
             f"{report['runs_finished']} of {report['runs_total']} runs finished, {report['runs_failed']} failed. "
             f"Score of a run: its final deterministic evaluation return; groups compared by {name} of the "
             f"{what} with {level}% stratified bootstrap intervals.", "",
             "## Groups", "", f"| group | runs | {name} | lower | upper | " + " | ".join(
                 f"{t} mean return" for t in report["tasks"]) + " |",
             "|---|---|---|---|---|" + "---|" * len(report["tasks"])]
    for group, per_task in report["per_task"].items():
        est = report["groups"].get(group, {})
        raw = " | ".join(_cell(per_task.get(t, {}).get("mean")) for t in report["tasks"])
        lines.append(f"| {group} | {est.get('runs', 0)} | {_cell(est.get('point'))} | {_cell(est.get('lower'))} "
                     f"| {_cell(est.get('upper'))} | {raw} |")
    if report["improvement"]:
        lines += ["", "## Probability of improvement", "", "| X | Y | P(X > Y) |", "|---|---|---|"]
        lines += [f"| {p['x']} | {p['y']} | {p['probability']:.2f} |" for p in report["improvement"]]
    if artifacts.get("plot"):
        rel = os.path.relpath(artifacts["plot"], Path(artifacts["report"]).parent)
        lines += ["", "## Learning curves", "", f"![learning curves]({rel})"]
    elif report["runs_finished"]:
        lines += ["", "## Learning curves", "", "Not drawn: some group's runs finished no training episode "
                  "(episodes.csv is empty), so there is no curve to compare."]
    lines += ["", "## Runs", "", "| run | seed | state | eval return | steps | folder |", "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['label']} | {r['seed']} | {r['state']} | {_cell(r.get('score'))} | "
                     f"{_cell(r.get('total_steps'))} | {r['run_dir']} |")
    if report["failures"]:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {f['label']} seed {f['seed']}: {f['error']} (traceback in {f['run_dir']}/error.txt)"
                  for f in report["failures"]]
    return "\n".join(lines) + "\n"
