"""``python -m rlcore``: train, eval, list (and report/export where available).

Bad input exits with status 2 and one sentence; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rlcore.cli_sweep import COMMANDS as SWEEP_COMMANDS
from rlcore.cli_sweep import add_parsers as add_sweep_parsers
from rlcore.cli_tune import COMMANDS as TUNE_COMMANDS
from rlcore.cli_tune import add_parsers as add_tune_parsers
from rlcore.cli_checks import MAX_EPISODES, check_run_dir, check_train_sizes, in_range, unreadable_runs
from rlcore.errors import RLCoreError

EPILOG = """examples:
  python -m rlcore list
  python -m rlcore train ppo CartPole-v1 --steps 50000
  python -m rlcore train sac Pendulum-v1 --steps 10000 --set actor_lr=3e-4 --json
  python -m rlcore eval runs/ppo-CartPole-v1-s0-20260101-120000 --episodes 20
  python -m rlcore export runs/ppo-CartPole-v1-s0-20260101-120000 --format onnx
  python -m rlcore sweep --algo ppo,a2c --env CartPole-v1 --seeds 3 --steps 10000 --out runs/sweep1
  python -m rlcore continue runs/ppo-CartPole-v1-s0-20260101-120000 --steps 20000
  python -m rlcore tune ppo CartPole-v1 --trials 20 --seeds 2 --param lr=log:1e-5:1e-2
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlcore", description="rlcore: train, evaluate and "
                                "inspect modular RL agents.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train an agent and write a run folder")
    t.add_argument("algo", help="algorithm key, e.g. ppo (see `list`)")
    t.add_argument("env_id", help="Gymnasium env id, e.g. CartPole-v1 (module:Id for your own)")
    t.add_argument("--steps", type=int, default=100_000, help="total env steps (default 100000)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--num-envs", type=int, default=None, help="parallel envs (default: per agent)")
    t.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field; repeatable")
    t.add_argument("--part", dest="parts", action="append", default=[], metavar="ROLE=KEY",
                   help="swap a part, e.g. --part encoder=identity; repeatable")
    t.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    t.add_argument("--backend", default="gym", help="env backend: gym (default), gym-async or torch")
    t.add_argument("--out", default=None, help="run folder (default runs/<algo>-<env>-s<seed>-<time>)")
    t.add_argument("--eval-episodes", type=int, default=10, help="final evaluation episodes (default 10)")
    t.add_argument("--eval-every", type=int, default=0, help="also evaluate every N steps")
    t.add_argument("--checkpoint-every", type=int, default=0, help="checkpoint every N steps")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/final.pt")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    t.add_argument("--json", action="store_true", help="print run.json as the last stdout line")

    e = sub.add_parser("eval", help="evaluate a trained run folder")
    e.add_argument("run_dir", help="a run folder containing run.json")
    e.add_argument("--episodes", type=int, default=10, help="episodes (default 10)")
    e.add_argument("--seed", type=int, default=None, help="evaluation seed (default: run seed + 10000)")
    e.add_argument("--json", action="store_true", help="print the result as JSON")

    r = sub.add_parser("report", help="aggregate run folders into tables and plots (IQM, CIs)")
    r.add_argument("run_dirs", nargs="+", help="run folders, or folders containing run folders")
    r.add_argument("--out", default="report", help="output folder (default ./report)")
    r.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    r.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05: 95%% intervals)")
    r.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    r.add_argument("--score-range", dest="score_ranges", action="append", default=[], metavar="ENV=LOW,HIGH",
                   help="normalise ENV's scores to (score - LOW) / (HIGH - LOW); repeatable")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")

    x = sub.add_parser("export", help="export a run's deterministic policy to ONNX, TorchScript or C")
    x.add_argument("run_dir", help="a run folder containing run.json")
    x.add_argument("--format", dest="fmt", default="onnx", metavar="FORMAT",
                   help="onnx (default, checked with onnxruntime), torchscript, or c (an MLP policy as a "
                   "C header, compiled with cc and checked)")
    x.add_argument("--out", default=None, help="output file (default RUN_DIR/policy.onnx or "
                   "RUN_DIR/policy.torchscript.pt)")
    x.add_argument("--json", action="store_true", help="print the result as JSON")

    ls = sub.add_parser("list", help="list registered agents and parts")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    ls.add_argument("--config", metavar="ALGO", help="show the config fields of ALGO")
    add_sweep_parsers(sub)
    add_tune_parsers(sub)
    return p


def _parts(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        role, sep, key = item.partition("=")
        if not sep:
            raise RLCoreError(f"--part expects role=key; got {item!r}.")
        out[role.strip()] = key.strip()
    return out


def _score_ranges(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items:
        env, _, bounds = item.rpartition("=")
        low, sep, high = bounds.partition(",")
        try:
            if not env or not sep:
                raise ValueError
            out[env.strip()] = (float(low), float(high))
        except ValueError:
            raise RLCoreError(f"--score-range expects ENV=LOW,HIGH with two numbers; got {item!r}.") from None
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from rlcore import make_agent
    from rlcore.config import parse_assignments
    from rlcore.envs import check_env_id
    from rlcore.registry import get

    get("agents", args.algo)  # fail fast on a bad algorithm
    check_env_id(args.env_id)
    config = parse_assignments(args.sets)
    check_train_sizes(args.steps, args.seed, args.num_envs, args.backend, args.eval_episodes,
                      args.eval_every, args.checkpoint_every, config)
    agent = make_agent(args.algo, args.env_id, config, seed=args.seed, device=args.device,
                       num_envs=args.num_envs, backend=args.backend, **_parts(args.parts))
    if args.resume:
        if not args.out:
            raise RLCoreError("--resume needs --out pointing at the run folder to continue.")
        agent.load(Path(args.out) / "checkpoints" / "final.pt")
    manifest = agent.train(args.steps, out=args.out, eval_episodes=args.eval_episodes,
                           eval_every=args.eval_every, checkpoint_every=args.checkpoint_every,
                           progress=not args.no_progress)
    out = Path(args.out) if args.out else None
    if args.json:
        print(json.dumps(manifest))
    else:
        ev = manifest["eval"]
        where = out or "the run folder"
        ret = "n/a" if ev["return_mean"] is None else f"{ev['return_mean']:.2f} +/- {ev['return_std']:.2f}"
        print(f"{manifest['algo']} on {manifest['env']}: {manifest['total_steps']} steps in "
              f"{manifest['wall_time_s']:.1f} s; eval return {ret} over {ev['episodes']} episodes ({where}).")
    return 0


def load_run(run_dir: str | Path):
    """Rebuild the agent of a run folder from its run.json and final checkpoint.

    Both files are checked first: a corrupt or truncated one is refused naming the file.
    """
    from rlcore.evaluation.checkpoint import load_agent

    check_run_dir(run_dir)
    return load_agent(run_dir)


def cmd_eval(args: argparse.Namespace) -> int:
    in_range("--episodes", args.episodes, 1, MAX_EPISODES)
    agent, m = load_run(args.run_dir)
    result = agent.evaluate(args.episodes, seed=args.seed)
    result = {"run_dir": str(args.run_dir), "algo": m["algo"], "env": m["env"], **result}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{m['algo']} on {m['env']}: return {result['return_mean']:.2f} +/- "
              f"{result['return_std']:.2f} over {result['episodes']} episodes.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rlcore.config import config_fields
    from rlcore.registry import catalog, get

    if args.config:
        fields = config_fields(get("agents", args.config).Config)
        if args.json:
            print(json.dumps(fields, default=str))
        else:
            for name, info in fields.items():
                print(f"{name:24s} {info['type']:8s} {str(info['default']):>12s}  {info['doc']}")
        return 0
    cat = catalog()
    if args.json:
        print(json.dumps(cat))
    else:
        for kind, keys in cat.items():
            print(f"{kind:14s} {', '.join(keys) if keys else '(none yet)'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rlcore.evaluation.report import report

    in_range("--reps", args.reps, 1, 1_000_000)
    if not 0 < args.alpha < 1:
        raise RLCoreError(f"--alpha must be between 0 and 1 (exclusive); got {args.alpha}.")
    try:
        summary = report([Path(p) for p in args.run_dirs], Path(args.out), reps=args.reps, alpha=args.alpha,
                         seed=args.seed, score_ranges=_score_ranges(args.score_ranges) or None)
    except RLCoreError as exc:  # name an unreadable run.json only when no run could be read at all
        bad = unreadable_runs(args.run_dirs) if str(exc).startswith("None of the") else []
        if bad:
            raise RLCoreError(f"No run could be reported: {bad[0]}") from None
        raise
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(f"Wrote {Path(args.out) / 'report.md'} and plots to {args.out}.")
        for warning in summary.get("warnings", []):
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rlcore.export import export_policy

    check_run_dir(args.run_dir)
    result = export_policy(args.run_dir, args.fmt, args.out)
    if args.json:
        print(json.dumps(result))
    elif result["format"] == "c":
        print(f"Exported {result['algo']} on {result['env']} to {result['path']} ({result['size_bytes']} bytes): "
              f"max abs diff {result['max_abs_diff']:.3g} vs PyTorch on {result['batch']} observations; "
              f"latency {result['latency_us']:.2f} us per action (cc -O2; PyTorch "
              f"{1e3 * result['torch_latency_ms']:.1f} us).")
    else:
        print(f"Exported {result['algo']} on {result['env']} to {result['path']}: max abs diff "
              f"{result['max_abs_diff']:.3g} vs PyTorch on {result['batch']} observations; latency "
              f"{result['latency_ms']:.3f} ms per observation, {result['batch_latency_ms']:.3f} ms per "
              f"batch of {result['batch']} (PyTorch {result['torch_latency_ms']:.3f} ms).")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "list": cmd_list, "report": cmd_report,
            "export": cmd_export}
COMMANDS.update(SWEEP_COMMANDS)
COMMANDS.update(TUNE_COMMANDS)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except RLCoreError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # unexpected: one line unless --debug
        if args.debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())
