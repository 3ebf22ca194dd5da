"""What a study leaves behind: one line per trial, the best config as ``--set`` flags and as an
``rlcore train`` command, ``summary.json`` and the plots (optimisation history, parameter
importances) as PNG files in the study folder."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

SUMMARY = "summary.json"
HISTORY_PNG = "history.png"
IMPORTANCES_PNG = "importances.png"


def fmt(value: Any) -> str:
    """A config value as a CLI token (floats to 6 significant digits, tuples comma-joined)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ",".join(fmt(v) for v in value)
    return str(value)


def set_flags(config: dict[str, Any]) -> str:
    return " ".join(f"--set {k}={fmt(v)}" for k, v in config.items())


def train_command(
    algo: str,
    env: str,
    steps: int,
    config: dict[str, Any],
    seed: int = 0,
    parts: dict[str, str] | None = None,
    num_envs: int | None = None,
) -> str:
    flags = [set_flags(config)] + [f"--part {r}={k}" for r, k in (parts or {}).items()]
    flags += [f"--num-envs {num_envs}"] if num_envs else []
    return " ".join(
        [f"python -m rlcore train {algo} {env} --steps {steps} --seed {seed}"] + [f for f in flags if f]
    )


def _params(trial: Any) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in trial.params.items())


def trial_line(tuner: Any, study: Any, trial: Any) -> str:
    """``trial 3 [4/20] complete: IQM 412.3 (lr=0.00123) in 12.3 s; best 455 (trial 1)``."""
    from rlcore.tune.watch import counted

    n = sum(counted(t) for t in study.get_trials(deepcopy=False))
    state = trial.state.name.lower()
    secs = (
        (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0.0
    )
    if state == "complete":
        what = f"IQM {trial.value:.4g}"
    elif state == "pruned":
        last = max(trial.intermediate_values.items(), default=(0, float("nan")))
        what = f"pruned at step {last[0]} (IQM {last[1]:.4g})"
    else:
        what = f"failed: {trial.user_attrs.get('error') or 'interrupted'}"
    try:
        best = f"; best {study.best_value:.4g} (trial {study.best_trial.number})"
    except ValueError:
        best = ""
    return (
        f"trial {trial.number} [{n}/{tuner.trials}] {state}: {what} ({_params(trial)}) in {secs:.1f} s{best}"
    )


def _figure(plot, study: Any, path: Path, **kwargs) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        ax = plot(study, **kwargs)
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(7, 4.5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def plots(study: Any, out: Path) -> tuple[dict[str, str], list[str]]:
    """(kind -> PNG path, one sentence per plot that could not be drawn)."""
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as ovm

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    made, notes = {}, []
    if not done:
        return made, ["No trial completed, so no plot was drawn."]
    made["history"] = _figure(ovm.plot_optimization_history, study, out / HISTORY_PNG)
    if len(done) < 2:
        notes.append("Parameter importances need at least two completed trials; not drawn.")
    else:
        try:
            made["importances"] = _figure(ovm.plot_param_importances, study, out / IMPORTANCES_PNG)
        except (RuntimeError, ValueError) as exc:
            notes.append(f"Parameter importances could not be computed ({exc}); not drawn.")
    return made, notes


def _importances(study: Any) -> dict[str, float]:
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):
        return {}


def summarise(tuner: Any, study: Any, wall_s: float, requeued: list[int]) -> dict[str, Any]:
    """Best trial, counts, plots and commands; written to ``out/summary.json`` and returned."""
    from optuna.trial import TrialState

    from rlcore.tune.watch import counted

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    counts["cut_off"] = sum(t.state == TrialState.FAIL and not counted(t) for t in trials)
    summary: dict[str, Any] = {
        "study": tuner.study_name,
        "setup": tuner.setup(),
        "trials": counts,
        "wall_time_s": round(wall_s, 2),
        "requeued": requeued,
        "best": None,
        "out": str(tuner.out),
    }
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        config = {**tuner.fixed, **best.params}
        summary["best"] = {
            "trial": best.number,
            "value": best.value,
            "params": best.params,
            "config": config,
            "scores": best.user_attrs.get("scores"),
            "set_flags": set_flags(config),
            "command": train_command(
                tuner.algo, tuner.env, tuner.steps, config, parts=tuner.parts, num_envs=tuner.num_envs
            ),
            "folder": best.user_attrs.get("folder"),
            "run_dirs": best.user_attrs.get("run_dirs"),
        }
        summary["importances"] = _importances(study) if len(complete) > 1 else {}
    tuner.out.mkdir(parents=True, exist_ok=True)
    summary["plots"], summary["notes"] = plots(study, tuner.out)
    (tuner.out / SUMMARY).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def describe(summary: dict[str, Any]) -> str:
    """The lines ``rlcore tune`` prints at the end."""
    counts = summary["trials"]
    lines = [
        f"Study {summary['study']!r}: {counts.get('complete', 0)} complete, {counts.get('pruned', 0)} pruned, "
        f"{counts.get('fail', 0)} failed trials ({counts.get('cut_off', 0)} cut off by an interruption and run "
        f"again); this session {summary['wall_time_s']:.1f} s."
    ]
    best = summary["best"]
    if best is None:
        lines.append("No trial completed, so there is no best config yet.")
    else:
        seeds = summary["setup"]["seeds"]
        lines += [
            f"Best: trial {best['trial']}, IQM over {seeds} seed(s) {best['value']:.4g}.",
            f"Best config as flags: {best['set_flags']}",
            f"Train it: {best['command']}",
        ]
    lines += [f"Plot: {path}" for path in summary["plots"].values()]
    lines += summary["notes"]
    lines.append(f"Summary: {Path(summary['out']) / SUMMARY}")
    return "\n".join(lines)
