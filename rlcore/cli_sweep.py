"""``python -m rlcore sweep`` (a grid of runs, aggregated) and ``python -m rlcore continue``."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

from rlcore.errors import RLCoreError

SWEEP_EPILOG = """examples:
  python -m rlcore sweep --algo ppo,a2c --env CartPole-v1 --seeds 3 --steps 10000 --out runs/sweep1
  python -m rlcore sweep --algo ppo --env CartPole-v1,Acrobot-v1 --vary lr=1e-3,3e-4 --out runs/lr
  python -m rlcore sweep --algo ppo --env CartPole-v1 --vary encoder=mlp,identity --seed-list 1,2,3 \\
      --backend serial --out runs/enc
  python -m rlcore sweep ... --address auto     # the same sweep on an existing Ray cluster

Each --vary adds an axis (a config field, a part role such as encoder, or num_envs); several
--vary flags make every combination. Runs land in OUT/runs/<label>-seed<k>/; finished runs are
skipped when the sweep is run again. OUT/report.md, OUT/report.json and OUT/curves.png hold the
result. Exit status: 0 when every run finished, 1 when some failed, 2 for bad input.
"""


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("sweep", help="run a grid of algorithms x envs x variants x seeds and compare",
                       description="Train a grid of runs in parallel on Ray (or one after another) and "
                       "compare the groups with IQM or mean and 95% stratified bootstrap intervals.",
                       epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--algo", required=True, help="algorithm keys, comma-separated, e.g. ppo,a2c")
    s.add_argument("--env", required=True, help="Gymnasium env ids, comma-separated, e.g. CartPole-v1,Acrobot-v1")
    s.add_argument("--seeds", type=int, default=3, help="number of seeds 0..N-1 (default 3)")
    s.add_argument("--seed-list", default=None, help="explicit seeds, comma-separated (overrides --seeds)")
    s.add_argument("--steps", type=int, default=10_000, help="env steps per run (default 10000)")
    s.add_argument("--vary", action="append", default=[], metavar="FIELD=V1,V2",
                   help="an axis: a config field, a part role (encoder=mlp,identity) or num_envs; repeatable")
    s.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
                   help="a config field for every run; repeatable")
    s.add_argument("--part", dest="parts", action="append", default=[], metavar="ROLE=KEY",
                   help="a part for every run, e.g. --part encoder=identity; repeatable")
    s.add_argument("--num-envs", type=int, default=None, help="parallel envs per run (default: per agent)")
    s.add_argument("--metric", default="iqm", help="iqm (default) or mean")
    s.add_argument("--eval-episodes", type=int, default=10, help="evaluation episodes per run (default 10)")
    s.add_argument("--workers", type=int, default=2, help="parallel runs on a local Ray (default 2)")
    s.add_argument("--address", default=None, help="join an existing Ray cluster (e.g. auto or HOST:6379)")
    s.add_argument("--backend", default="ray", help="ray (default) or serial")
    s.add_argument("--out", required=True, help="experiment folder")
    s.add_argument("--events", action="store_true", help="print @@rlcore.experiment JSON event lines")
    s.add_argument("--json", action="store_true", help="print the result (runs, report, artifacts) as the "
                   "last stdout line")
    c = sub.add_parser("continue", help="train a finished run for more steps in the same folder")
    c.add_argument("run_dir", help="a run folder containing run.json and checkpoints/final.pt")
    c.add_argument("--steps", type=int, required=True, help="additional env steps")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    c.add_argument("--json", action="store_true", help="print the new run.json as the last stdout line")


def parse_value(text: str) -> Any:
    """A CLI value as int, float, bool or string ("1e-3" -> 0.001, "true" -> True)."""
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _split(flag: str, item: str) -> tuple[str, list[str]]:
    key, sep, values = item.partition("=")
    vals = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not vals:
        raise RLCoreError(f"{flag} expects FIELD=V1,V2,...; got {item!r}.")
    return key.strip(), vals


def _setting(key: str, value: str) -> dict[str, Any]:
    from rlcore.registry import ROLES

    if key in ROLES:
        return {"parts": {key: value}}
    if key == "num_envs":
        return {"num_envs": parse_value(value)}
    return {"config": {key: parse_value(value)}}


def variants_from(items: list[str]) -> dict[str, dict] | None:
    """--vary flags -> {"lr=0.001,encoder=mlp": {"config": {...}, "parts": {...}}} (every combination)."""
    axes = [_split("--vary", item) for item in items]
    if not axes:
        return None
    out = {}
    for combo in itertools.product(*[[(k, v) for v in vals] for k, vals in axes]):
        variant: dict[str, Any] = {}
        for key, value in combo:
            for section, setting in _setting(key, value).items():
                variant[section] = {**variant.get(section, {}), **setting} if isinstance(setting, dict) else setting
        out[",".join(f"{k}={v}" for k, v in combo)] = variant
    return out


def common_from(args: argparse.Namespace) -> dict[str, Any]:
    from rlcore.config import parse_assignments
    from rlcore.cli import _parts

    common: dict[str, Any] = {"config": {k: parse_value(v) for k, v in parse_assignments(args.sets).items()},
                              "parts": _parts(args.parts)}
    if args.num_envs is not None:
        if args.num_envs < 1:
            raise RLCoreError(f"--num-envs must be at least 1; got {args.num_envs}.")
        common["num_envs"] = args.num_envs
    return common


def seeds_from(args: argparse.Namespace) -> list[int]:
    if args.seed_list:
        try:
            return [int(s) for s in args.seed_list.split(",") if s.strip()]
        except ValueError:
            raise RLCoreError(f"--seed-list expects integers separated by commas; got {args.seed_list!r}.") from None
    if args.seeds < 1:
        raise RLCoreError(f"--seeds must be at least 1; got {args.seeds}.")
    return list(range(args.seeds))


def _names(text: str, flag: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise RLCoreError(f"{flag} expects names separated by commas; got {text!r}.")
    return names


def cmd_sweep(args: argparse.Namespace) -> int:
    from rlcore.envs import check_env_id
    from rlcore.experiment import Experiment
    from rlcore.experiment.display import Progress, summary

    envs = _names(args.env, "--env")
    for env in envs:
        check_env_id(env)
    exp = Experiment(out=args.out, algos=_names(args.algo, "--algo"), envs=envs, seeds=seeds_from(args),
                     steps=args.steps, variants=variants_from(args.vary), common=common_from(args),
                     eval_episodes=args.eval_episodes, metric=args.metric)
    progress = Progress(sys.stderr)
    result = exp.run(workers=args.workers, address=args.address, backend=args.backend,
                     events=args.events or None, on_event=progress)
    print(summary(result))
    if args.json:
        print(json.dumps(result.as_dict(), default=str))
    return 1 if result.report["runs_failed"] else 0


def cmd_continue(args: argparse.Namespace) -> int:
    from rlcore.cli_checks import check_run_dir
    from rlcore.trainer import resume

    check_run_dir(args.run_dir)  # a corrupt run.json or checkpoint: one sentence naming the file
    manifest = resume(args.run_dir, args.steps, progress=not args.no_progress)
    if args.json:
        print(json.dumps(manifest))
    else:
        ev = manifest["eval"]
        ret = "n/a" if ev["return_mean"] is None else f"{ev['return_mean']:.2f} +/- {ev['return_std']:.2f}"
        print(f"{manifest['algo']} on {manifest['env']}: continued to {manifest['total_steps']} steps; "
              f"eval return {ret} over {ev['episodes']} episodes ({args.run_dir}).")
    return 0


COMMANDS = {"sweep": cmd_sweep, "continue": cmd_continue}
