"""A 6-run sweep on a local Ray vs the same runs one after another, in one run of this script.

    python -m bench.sweep [--algo sac] [--env Pendulum-v1] [--steps 40000] [--seeds 6] [--workers 2]

Each phase runs in a fresh child process (imports outside the timer): ``serial`` trains the
runs one after another in that process; ``ray`` times everything from ``import ray`` to the
shut-down of the local Ray instance it started (start-up included). Ray's start-up is also
measured on its own (``ray.init`` + the first task on a worker + shut-down). Per-seed results
(evaluation returns and the episodes.csv of every run) must be identical. The goal is a
ray/serial wall-time ratio <= 0.6 with each run taking >= 20 s alone. Prints the ratio and
writes bench/results/sweep_latest.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def _phase(args: argparse.Namespace) -> dict:
    """Child process: run one phase and return its timings and per-run results."""
    import torch  # noqa: F401  (imported before the timer, as in any script)

    from rlcore.experiment import Experiment

    exp = Experiment(out=args.out, algos=[args.algo], envs=[args.env], seeds=list(range(args.seeds)),
                     steps=args.steps, eval_episodes=10)
    start = time.perf_counter()
    if args.phase == "ray-start":
        from rlcore.experiment.backends import start_ray

        import ray
        start_ray(args.workers, None)
        ray.get(ray.remote(num_cpus=1)(lambda: 1).remote())
        up = time.perf_counter() - start
        ray.shutdown()
        return {"start_s": round(up, 2), "start_and_shutdown_s": round(time.perf_counter() - start, 2)}
    if args.phase == "ray":  # started here (same settings) so its processes can be measured before shut-down
        from rlcore.experiment.backends import start_ray

        start_ray(args.workers, None)
    result = exp.run(backend=args.phase, workers=args.workers)
    cpu = _cpu_by_kind() if args.phase == "ray" else {}
    if args.phase == "ray":
        import ray

        ray.shutdown()
    wall = time.perf_counter() - start
    runs = [{"seed": r["seed"], "state": r["state"], "return": (r.get("eval") or {}).get("return_mean"),
             "train_s": r.get("wall_time_s"),
             "episodes_sha": hashlib.sha256(Path(r["run_dir"], "episodes.csv").read_bytes()).hexdigest()[:16]}
            for r in result.runs]
    driver = os.times()
    cpu["driver_s"] = round(driver.user + driver.system, 1)
    return {"wall_s": round(wall, 2), "runs": runs, "cpu": cpu}


def _cpu_by_kind() -> dict[str, float]:
    """CPU seconds used so far by this process's descendants: Ray's workers and Ray's own services."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            procs[int(entry.name)] = (int(stat[1]), (int(stat[11]) + int(stat[12])) / tick, cmd)
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in procs.items() if ppid in frontier and pid not in mine}
        mine |= frontier
    out = {"ray_workers_s": 0.0, "ray_services_s": 0.0}
    for pid in mine:
        _, seconds, cmd = procs[pid]
        out["ray_workers_s" if cmd.startswith("ray::IDLE") or "_ray_task" in cmd else "ray_services_s"] += seconds
    return {k: round(v, 1) for k, v in out.items()}


def _child(phase: str, args: argparse.Namespace, out: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.sweep", "--phase", phase, "--out", str(out), "--algo", args.algo,
           "--env", args.env, "--steps", str(args.steps), "--seeds", str(args.seeds), "--workers", str(args.workers)]
    env = {**os.environ, "RLCORE_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"phase {phase} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def _markdown(res: dict) -> str:
    s, r = res["serial"], res["ray"]
    rows = "\n".join(f"| {a['seed']} | {a['train_s']:.1f} | {b['train_s']:.1f} | {a['return']:.2f} | {b['return']:.2f} | "
                     f"{'yes' if a['episodes_sha'] == b['episodes_sha'] else 'NO'} |"
                     for a, b in zip(s["runs"], r["runs"]))
    return (f"# Sweep on Ray vs one after another\n\n`{res['command']}` ({res['cpus']} CPUs, load average "
            f"{res['load_before']} before, {res['load_after']} after)\n\n"
            f"{res['seeds']} runs of {res['algo']} on {res['env']}, {res['steps']} steps each, {res['workers']} "
            f"Ray workers.\n\n| | wall time |\n|---|---|\n| one after another | {s['wall_s']:.1f} s |\n"
            f"| Ray (start-up included) | {r['wall_s']:.1f} s |\n| **ratio** | **{res['ratio']:.2f}** |\n"
            f"| Ray start-up alone (init + first task) | {res['ray_start']['start_s']:.1f} s |\n"
            f"| Ray start-up + shut-down | {res['ray_start']['start_and_shutdown_s']:.1f} s |\n\n"
            f"| seed | train s alone | train s on Ray | return alone | return Ray | same episodes.csv |\n"
            f"|---|---|---|---|---|---|\n"
            f"{rows}\n\nIdentical per-seed results: {res['identical']}. Shortest run alone: "
            f"{res['shortest_run_s']:.1f} s. Ray's parallel efficiency: the runs took {res['ray_slowdown']:.2f}x "
            f"their time alone when {res['workers']} ran at once (1.00 when each worker has a free core). "
            f"CPU time in the Ray phase: workers {r['cpu'].get('ray_workers_s', 0):.0f} s, Ray's own services "
            f"{r['cpu'].get('ray_services_s', 0):.0f} s, driver {r['cpu'].get('driver_s', 0):.0f} s; one after "
            f"another: {s['cpu'].get('driver_s', 0):.0f} s.\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--algo", default="sac")
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--phase", choices=["serial", "ray", "ray-start"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if args.phase:
        print(json.dumps(_phase(args)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="rlcore-sweep-bench-"))
    try:
        load_before = _load()
        ray_start = _child("ray-start", args, tmp / "start")
        ray_res = _child("ray", args, tmp / "ray")
        serial = _child("serial", args, tmp / "serial")
        load_after = _load()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    identical = all(a["return"] == b["return"] and a["episodes_sha"] == b["episodes_sha"]
                    for a, b in zip(serial["runs"], ray_res["runs"]))
    res = {"command": "python -m bench.sweep " + " ".join(sys.argv[1:] if argv is None else argv),
           "algo": args.algo, "env": args.env, "steps": args.steps, "seeds": args.seeds, "workers": args.workers,
           "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after,
           "serial": serial, "ray": ray_res, "ray_start": ray_start,
           "ratio": round(ray_res["wall_s"] / serial["wall_s"], 3), "identical": identical,
           "shortest_run_s": min(r["train_s"] for r in serial["runs"]),
           "ray_slowdown": round(sum(r["train_s"] for r in ray_res["runs"]) / sum(r["train_s"] for r in serial["runs"]), 3)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep_latest.json").write_text(json.dumps(res, indent=2) + "\n")
    (RESULTS / "sweep_latest.md").write_text(_markdown(res))
    print(json.dumps(res) if args.json else _markdown(res))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
