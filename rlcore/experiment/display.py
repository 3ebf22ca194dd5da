"""What ``python -m rlcore sweep`` shows people: a line per run state change and a summary table."""

from __future__ import annotations

from typing import Any, TextIO


class Progress:
    """An ``on_event`` callback printing run state changes (running updates every 10% of steps)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.states: dict[str, str] = {}
        self.shown: dict[str, int] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") != "run":
            return
        run, state = event["run_dir"], event["state"]
        step, total = event.get("step") or 0, max(event.get("total") or 1, 1)
        if state == "running" and self.states.get(run) == "running":
            if step * 10 // total <= self.shown.get(run, -1):
                return
        self.states[run], self.shown[run] = state, step * 10 // total
        finished = sum(s in ("done", "skipped", "failed") for s in self.states.values())
        ret = event.get("return_mean")
        detail = f" {step}/{total} steps" + (f", return {ret:.1f}" if isinstance(ret, (int, float)) else "")
        if event.get("error"):
            detail += f": {event['error']}"
        self.stream.write(f"[{finished}/{len(self.states)} finished] {event['label']} seed {event['seed']}: "
                          f"{state}{detail if state != 'queued' else ''}\n")
        self.stream.flush()


def summary(result) -> str:
    """A table of groups with their intervals, then the verdict and where the outputs are."""
    report = result.report
    name = {"iqm": "IQM", "mean": "mean"}[report["metric"]]
    rows = [("group", "runs", f"{name} [95% CI]")]
    for group, est in report["groups"].items():
        rows.append((group, str(est["runs"]), f"{est['point']:.4g} [{est['lower']:.4g}, {est['upper']:.4g}]"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", report["verdict"]]
    lines += [f"failed: {f['label']} seed {f['seed']}: {f['error']}" for f in report["failures"]]
    lines.append(f"Report: {result.artifacts['report']}" + (f"; plot: {result.artifacts['plot']}"
                                                            if result.artifacts.get("plot") else ""))
    return "\n".join(lines)
