"""Recorded event sequences of the generator, as the Generate tab receives them.

One experiment (two encoders x two seeds, IQM with intervals, a plot, an ONNX export that
failed) and one single run. Paths point into a temporary folder the tests create.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ASKS = ["compare the mlp and identity encoders", "3 seeds per encoder", "IQM with a 95% interval",
        "one comparison plot", "export the best policy to ONNX"]


def _png(path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def experiment(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """plan -> runs queued/running/done (one failed) -> report -> done with ok false (export not done)."""
    out = root / "exp"
    runs = {(g, s): str(out / "runs" / f"{g}-seed{s}") for g in ("mlp", "identity") for s in (0, 1)}
    for path in runs.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    plot = _png(out / "comparison.png")
    events: list[tuple[str, dict[str, Any]]] = [
        ("status", {"text": "Splitting the request into asks…"}),
        ("plan", {"asks": [{"ask": a, "done": None, "detail": ""} for a in ASKS]}),
        ("script", {"text": "from rlcore.experiment import Experiment\n"}),
    ]
    for (group, seed), run_dir in runs.items():
        events.append(("run", {"label": f"{group} seed {seed}", "group": group, "seed": seed, "run_dir": run_dir,
                               "state": "queued", "step": 0, "total": 20000, "return_mean": None, "error": None}))
    events += [
        ("run", {"label": "mlp seed 0", "group": "mlp", "seed": 0, "run_dir": runs["mlp", 0], "state": "running",
                 "step": 8000, "total": 20000}),
        ("log", {"line": "mlp seed 0: 8000/20000"}),
        ("progress", {"step": 8000, "total": 80000}),
    ]
    finals = {("mlp", 0): 480.0, ("mlp", 1): 500.0, ("identity", 0): 120.5}
    for key, ret in finals.items():
        events.append(("run", {"label": f"{key[0]} seed {key[1]}", "group": key[0], "seed": key[1],
                               "run_dir": runs[key], "state": "done", "step": 20000, "total": 20000,
                               "return_mean": ret}))
    events.append(("run", {"label": "identity seed 1", "group": "identity", "seed": 1,
                           "run_dir": runs["identity", 1], "state": "failed", "step": 3000, "total": 20000,
                           "error": "The run stopped: NaN in the value loss at step 3000."}))
    report = {"metric": "IQM", "best": "mlp", "verdict": "mlp beats identity (P(improvement) = 0.97).",
              "groups": {"mlp": {"point": 490.0, "lower": 480.0, "upper": 500.0, "runs": [runs["mlp", 0], runs["mlp", 1]]},
                         "identity": {"point": 120.5, "lower": 120.5, "upper": 120.5, "runs": [runs["identity", 0]]}}}
    events.append(("report", {"report": report, "artifacts": {"plot": plot, "report": str(out / "report.md")}}))
    final_asks = [{"ask": a, "done": True, "detail": "verified from the outputs"} for a in ASKS[:4]]
    final_asks.append({"ask": ASKS[4], "done": False, "detail": "onnx export failed: the policy has no Box actions"})
    manifests = [{"algo": "ppo", "env": "CartPole-v1", "seed": s, "total_steps": 20000, "run_dir": runs[g, s],
                  "eval": {"return_mean": finals[g, s]}} for (g, s) in finals]
    events.append(("done", {"ok": False, "error": "", "asks": final_asks, "runs": manifests, "report": report,
                            "evaluations": [], "artifacts": {"plot": plot, "report": str(out / "report.md")},
                            "script": "from rlcore.experiment import Experiment\n", "manifest": None}))
    return events


def single_run(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """One PPO run: plan with two asks, progress from the log, done with ok true."""
    run_dir = root / "single"
    run_dir.mkdir(parents=True, exist_ok=True)
    curve = _png(run_dir / "curve.png")
    asks = [{"ask": "train PPO on CartPole-v1", "done": None, "detail": ""},
            {"ask": "20000 steps", "done": None, "detail": ""}]
    manifest = {"algo": "ppo", "env": "CartPole-v1", "seed": 0, "total_steps": 20000,
                "eval": {"return_mean": 500.0, "return_std": 0.0}, "run_dir": str(run_dir)}
    return [
        ("status", {"text": "Asking the model for a RunSpec"}),
        ("plan", {"asks": asks}),
        ("spec", {"algo": "ppo", "env_id": "CartPole-v1", "total_steps": 20000}),
        ("script", {"text": "print('train')\n"}),
        ("run", {"label": "ppo CartPole-v1", "group": "ppo", "seed": 0, "run_dir": str(run_dir),
                 "state": "running", "step": 10000, "total": 20000}),
        ("log", {"line": "ppo CartPole-v1:  50%|#####     | 10000/20000"}),
        ("done", {"ok": True, "error": None, "asks": [dict(a, done=True) for a in asks], "runs": [manifest],
                  "report": None, "evaluations": [], "artifacts": {}, "script": "print('train')\n",
                  "manifest": manifest, "curve_png": curve, "run_dir": str(run_dir)}),
    ]
