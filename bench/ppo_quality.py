"""PPO's learning quality on suite B4 (Pendulum-v1, 300k steps): many seeds, robust statistics.

    python -m bench.ppo_quality [--seeds 20] [--first-seed 0] [--envs torch|gym] [--eager]
                                [--set FIELD=VALUE ...] [--sb3 N] [--load FILE ...] [--save FILE]

Trains rlcore's PPO with B4's hyperparameters (``bench.suites``; ``--set`` overrides a field)
for each seed, one run after another in this process with one torch thread, and evaluates each
like ``bench.worker`` does (20 deterministic episodes). ``--sb3 N`` also trains
Stable-Baselines3 on seeds ``first-seed .. first-seed+N-1``, each in a fresh process through
``bench.worker``. ``--load`` adds groups saved earlier by ``--save`` or the B4 runs of a
``bench.rl`` JSON file (its ``sb3``, ``rlcore_torch`` and ``rlcore_gym`` seeds), so slow SB3
runs are reused. Prints, per group, the median and mean return, the interquartile mean with
a 95% stratified bootstrap interval, and for each pair of groups the probability that a run
of one scores higher than a run of the other (with its bootstrap interval), and how often
``bench.rl``'s quality gate (median within 5%) passes for a group against itself at 10 seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from bench.suites import SUITES
from rlcore.evaluation import metrics

SUITE = SUITES["B4"]


def parse_sets(pairs: list[str]) -> dict:
    """``FIELD=VALUE`` strings to config overrides (values read as JSON where they parse)."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set {pair!r} is not FIELD=VALUE; accepted: e.g. --set log_std_init=-0.5.")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def run_rlcore(seed: int, overrides: dict, backend: str, eager: bool) -> dict:
    """One B4 run of rlcore's PPO; returns its seed, return, training seconds and update path."""
    import tempfile

    import torch

    from rlcore import make_agent

    torch.set_num_threads(1)
    agent = make_agent("ppo", SUITE.env_id, {**SUITE.rlcore, **overrides}, seed=seed,
                       num_envs=SUITE.num_envs, backend=backend)
    agent.build()
    if eager:
        agent.use_eager("--eager")
    with tempfile.TemporaryDirectory() as out:
        manifest = agent.train(SUITE.steps, out=out, eval_episodes=0, progress=False, tensorboard=False)
    ret = agent.evaluate(20, seed=10_000 + seed)["return_mean"]
    print(f"rlcore seed {seed}: {ret:.1f} ({manifest['wall_time_s']:.1f} s)", flush=True)
    return {"seed": seed, "return": float(ret), "train_s": manifest["wall_time_s"], "path": agent.update_path}


def run_sb3(seed: int) -> dict:
    from bench.rl import run_one

    r = run_one("sb3", "B4", seed, "gym")
    print(f"sb3 seed {seed}: {r['return']:.1f} ({r['train_s']:.1f} s)", flush=True)
    return {"seed": seed, "return": float(r["return"]), "train_s": r["train_s"], "path": "sb3"}


def load_groups(path: str) -> dict[str, list[float]]:
    """Groups of returns from a ``--save`` file or the B4 runs of a ``bench.rl`` JSON file."""
    data = json.loads(Path(path).read_text())
    if "groups" in data:
        return {name: [r["return"] for r in runs] for name, runs in data["groups"].items()}
    runs = data.get("runs", {}).get("B4")
    if not runs:
        raise SystemExit(f"{path} has neither 'groups' nor B4 runs; "
                         "accepted: a --save file or a bench.rl JSON.")
    return {f"{lib} ({Path(path).name})": [r["return"] for r in rs] for lib, rs in runs.items()}


def describe(name: str, returns: list[float], seed: int = 0) -> str:
    x = np.asarray(returns, dtype=np.float64)[:, None]
    ci = metrics.stratified_bootstrap_ci({name: x}, metrics.iqm, reps=2000, seed=seed)[name]
    return (f"| {name} | {len(returns)} | {statistics.median(returns):.1f} | {x.mean():.1f} | "
            f"{float(ci.point):.1f} [{float(ci.lower):.1f}, {float(ci.upper):.1f}] | "
            f"{x.min():.0f} .. {x.max():.0f} |")


def compare(a: str, ra: list[float], b: str, rb: list[float]) -> str:
    x, y = (np.asarray(r, dtype=np.float64)[:, None] for r in (ra, rb))
    ci = metrics.stratified_bootstrap_ci({"p": (x, y)}, metrics.probability_of_improvement, reps=2000)["p"]
    return f"P({a} > {b}) = {float(ci.point):.2f} [{float(ci.lower):.2f}, {float(ci.upper):.2f}]"


def self_gate(returns: list[float], seeds: int = 10, reps: int = 20_000) -> float:
    """How often ``bench.rl``'s quality gate (median within 5% of the reference's) passes when
    both sides are ``seeds`` runs drawn from the same group: the gate's noise floor."""
    rng = np.random.default_rng(0)
    x = np.asarray(returns, dtype=np.float64)
    a, b = (np.median(rng.choice(x, (reps, seeds)), axis=1) for _ in range(2))
    return float(np.mean(a >= b - 0.05 * np.abs(b)))


def report(groups: dict[str, list[float]]) -> str:
    lines = ["| group | seeds | median | mean | IQM [95% CI] | min .. max |", "|---|---|---|---|---|---|"]
    lines += [describe(name, rs) for name, rs in groups.items()]
    names = list(groups)
    lines += [""] + [compare(a, groups[a], b, groups[b]) for i, a in enumerate(names) for b in names[i + 1:]]
    lines += [""] + [f"{name} against itself, 10 seeds each side: the 5% median gate passes in "
                     f"{self_gate(rs):.0%} of resamples" for name, rs in groups.items() if len(rs) >= 10]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20, help="rlcore seeds to train (0 trains none)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--envs", choices=("torch", "gym"), default="torch")
    p.add_argument("--eager", action="store_true", help="force the eager learner and collector")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a B4 field")
    p.add_argument("--name", default=None, help="label of this run's rlcore group")
    p.add_argument("--sb3", type=int, default=0, help="SB3 seeds to train (slow: about 50 s each)")
    p.add_argument("--load", action="append", default=[], metavar="FILE", help="add saved groups")
    p.add_argument("--save", default=None, metavar="FILE", help="write this run's groups as JSON")
    args = p.parse_args(argv)
    overrides = parse_sets(args.set)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    name = args.name or "rlcore " + " ".join([args.envs, *(["eager"] if args.eager else []), *args.set])
    runs: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    if args.seeds:
        runs[name] = [run_rlcore(s, overrides, args.envs, args.eager) for s in seeds]
        print(f"{name}: {args.seeds} runs in {time.perf_counter() - t0:.0f} s; path: {runs[name][0]['path']}")
    if args.sb3:
        runs["sb3"] = [run_sb3(s) for s in range(args.first_seed, args.first_seed + args.sb3)]
    if args.save:
        Path(args.save).write_text(json.dumps({"suite": "B4", "groups": runs}, indent=1))
    groups = {k: [r["return"] for r in v] for k, v in runs.items()}
    for path in args.load:
        groups.update(load_groups(path))
    print(report(groups))


if __name__ == "__main__":
    main()
