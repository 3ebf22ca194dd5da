"""Does tuning pay? ``rlcore tune`` on PPO CartPole-v1, then the best config vs the defaults on fresh seeds.

    python -m bench.tune [--trials 20] [--seeds 2] [--workers 2] [--steps 20000] [--fresh 5]
                         [--kill-after 60] [--out DIR]

1. Runs ``python -m rlcore tune ppo CartPole-v1 --param lr=log:1e-5:1e-2 ...`` as a child
   process (the command a user types). With ``--kill-after S`` the child is killed with
   SIGKILL after S seconds and the same command is started again: the study resumes.
2. Trains the best config and the defaults on ``--fresh`` seeds none of the trials used
   (1000, 1001, ...) with the same step budget, on the experiment runner, and prints the IQM
   over those seeds of each (with 95% bootstrap intervals) and the wall times.

Writes bench/results/tune_latest.{json,md}. The goal: tuned IQM >= defaults IQM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
PARAMS = ["lr=log:1e-5:1e-2", "gamma=float:0.9:0.999", "ent_coef=log:1e-5:1e-1"]


def _tune_cmd(args: argparse.Namespace) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "rlcore",
        "tune",
        "ppo",
        "CartPole-v1",
        "--trials",
        str(args.trials),
        "--seeds",
        str(args.seeds),
        "--workers",
        str(args.workers),
        "--steps",
        str(args.steps),
        "--out",
        str(args.out),
        "--sampler-seed",
        "0",
    ]
    for p in args.param or PARAMS:
        cmd += ["--param", p]
    return cmd


def tune(args: argparse.Namespace) -> dict:
    """Run the study (killed once and restarted when asked); wall times of each session."""
    cmd, env = _tune_cmd(args), {**os.environ, "PYTHONPATH": str(ROOT)}
    print("$ python " + " ".join(cmd[1:]), flush=True)
    sessions = []
    if args.kill_after:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        try:
            proc.wait(timeout=args.kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        sessions.append(
            {
                "wall_s": round(time.perf_counter() - t0, 1),
                "killed": proc.returncode == -9,
                "trials_before_kill": _counted(args.out),
            }
        )
        print(
            f"-- killed with SIGKILL after {args.kill_after} s; starting the same command again --",
            flush=True,
        )
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    sessions.append(
        {"wall_s": round(time.perf_counter() - t0, 1), "killed": False, "returncode": done.returncode}
    )
    summary = json.loads((Path(args.out) / "summary.json").read_text())
    return {"sessions": sessions, "summary": summary}


def _counted(out: Path) -> int | None:
    """Trials counted in the study's journal so far (read through Optuna)."""
    try:
        import optuna
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(Path(out) / "study.journal")))
        study = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage)
        return sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
    except Exception:  # noqa: BLE001 - a count for the report only
        return None


def compare(best: dict, args: argparse.Namespace) -> dict:
    """Best config vs defaults on fresh seeds, through the experiment runner (one Ray instance)."""
    from rlcore.experiment import Experiment

    seeds = list(range(1000, 1000 + args.fresh))
    exp = Experiment(
        out=Path(args.out) / "fresh",
        algos=["ppo"],
        envs=["CartPole-v1"],
        seeds=seeds,
        steps=args.steps,
        variants={"defaults": {}, "tuned": {"config": best}},
        eval_episodes=10,
    )
    t0 = time.perf_counter()
    result = exp.run(workers=args.workers)
    groups = {g.split("/")[-1]: est for g, est in result.report["groups"].items()}  # "ppo/tuned" -> "tuned"
    scores = {
        g.split("/")[-1]: sorted(r["score"] for r in result.runs if r["group"] == g)
        for g in result.report["groups"]
    }
    return {
        "seeds": seeds,
        "wall_s": round(time.perf_counter() - t0, 1),
        "groups": groups,
        "scores": scores,
        "verdict": result.report.get("verdict"),
    }


def _md(out: dict) -> str:
    s, c = out["tune"]["summary"], out["compare"]
    g = c["groups"]
    lines = [
        "# rlcore tune: PPO on CartPole-v1",
        "",
        f"command: `{out['command']}`",
        "",
        f"load average at start: {out['load_start']}",
        "",
        "| session | wall time (s) | killed |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {i + 1} | {x['wall_s']} | {x['killed']} |" for i, x in enumerate(out["tune"]["sessions"])]
    lines += [
        "",
        f"trials: {s['trials']}",
        f"best: trial {s['best']['trial']}, IQM over seeds {s['best']['value']:.1f},"
        f" {s['best']['set_flags']}",
        "",
        f"fresh seeds {c['seeds']}, {out['steps']} steps each (wall {c['wall_s']} s):",
        "",
        "| config | IQM [95% CI] | returns |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {k} | {g[k]['point']:.1f} [{g[k]['lower']:.1f}, {g[k]['upper']:.1f}] | {c['scores'][k]} |"
        for k in ("defaults", "tuned")
    ]
    return "\n".join(lines + ["", str(c["verdict"])]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tune", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--fresh", type=int, default=5, help="fresh seeds for the final comparison")
    p.add_argument(
        "--kill-after",
        type=float,
        default=0.0,
        help="SIGKILL the study after this many seconds, then restart it (0: no kill)",
    )
    p.add_argument(
        "--param", action="append", default=None, help=f"search space (default {' '.join(PARAMS)})"
    )
    p.add_argument("--out", default=None, help="study folder (default: a new temporary folder)")
    args = p.parse_args(argv)
    args.out = Path(args.out or tempfile.mkdtemp(prefix="bench-tune-"))
    load = os.getloadavg()
    out = {
        "command": "python " + " ".join(_tune_cmd(args)[1:]),
        "steps": args.steps,
        "load_start": [round(x, 1) for x in load],
    }
    t0 = time.perf_counter()
    out["tune"] = tune(args)
    best = out["tune"]["summary"]["best"]["config"]
    out["compare"] = compare(best, args)
    out["total_wall_s"] = round(time.perf_counter() - t0, 1)
    g = out["compare"]["groups"]
    print(
        f"tuning: {sum(x['wall_s'] for x in out['tune']['sessions']):.1f} s over "
        f"{len(out['tune']['sessions'])} session(s); best {out['tune']['summary']['best']['set_flags']}"
    )
    print(
        f"fresh seeds {out['compare']['seeds']}: tuned IQM {g['tuned']['point']:.1f} "
        f"[{g['tuned']['lower']:.1f}, {g['tuned']['upper']:.1f}] vs defaults IQM {g['defaults']['point']:.1f} "
        f"[{g['defaults']['lower']:.1f}, {g['defaults']['upper']:.1f}]; ratio tuned/defaults "
        f"{g['tuned']['point'] / max(g['defaults']['point'], 1e-9):.2f}; comparison {out['compare']['wall_s']} s"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tune_latest.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    (RESULTS / "tune_latest.md").write_text(_md(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
