"""Reading back what a generated script produced: runs, report, evaluations, artifacts.

The script writes ``outputs.json`` (see :mod:`copilot.codegen.render_plan`); every run it
names is re-read from its own ``run.json`` (plus ``run_dir``), and an artifact counts only
when its file exists. Nothing here trusts a number the script printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from copilot.codegen.render_plan import OUTPUTS_NAME


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_runs(paths: list[Any], base: Path) -> list[dict[str, Any]]:
    """run.json of each run folder (relative paths are taken from ``base``), with ``run_dir``."""
    runs = []
    for item in paths:
        folder = Path(str(item))
        folder = folder if folder.is_absolute() else base / folder
        manifest = _read_json(folder / "run.json")
        if isinstance(manifest, dict):
            runs.append({**manifest, "run_dir": str(folder)})
    return runs


def read_outputs(run_dir: Path, since: float = 0.0) -> dict[str, Any] | None:
    """runs, report, evaluations and artifacts from ``run_dir/outputs.json`` (None if absent/stale)."""
    path = run_dir / OUTPUTS_NAME
    try:
        if path.stat().st_mtime + 1.0 < since:
            return None
    except OSError:
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        return None
    artifacts = {}
    for kind, where in (data.get("artifacts") or {}).items():
        p = Path(str(where))
        p = p if p.is_absolute() else run_dir / p
        if p.is_file():
            artifacts[str(kind)] = str(p)
    evaluations = [e for e in data.get("evaluations") or [] if isinstance(e, dict)]
    report = data.get("report") if isinstance(data.get("report"), dict) else None
    return {"runs": read_runs(list(data.get("runs") or []), run_dir), "report": report,
            "evaluations": evaluations, "artifacts": artifacts}
