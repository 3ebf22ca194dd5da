"""``python -m rlcore tune``: an Optuna study over config fields, trials trained on Ray."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rlcore.errors import RLCoreError
from rlcore.tune.params import FORMS

TUNE_EPILOG = f"""search space (--param, repeatable): {FORMS}
  log:LO:HI     a float searched on a log scale (learning rates, entropy coefficients)
  float:LO:HI   a float searched uniformly (gamma, gae_lambda, clip_range)
  int:LO:HI     an integer, both ends included (n_epochs)
  choice:a,b,c  one of the listed values (batch_size, activation, lr_schedule)

examples:
  python -m rlcore tune ppo CartPole-v1 --trials 20 --seeds 2 --steps 30000 --param lr=log:1e-5:1e-2
  python -m rlcore tune ppo CartPole-v1 --trials 30 --param lr=log:1e-4:3e-3 --param gamma=float:0.9:0.999 \\
      --param batch_size=choice:64,128,256 --set n_steps=256 --out runs/tune-ppo
  python -m rlcore tune sac Pendulum-v1 --trials 10 --param actor_lr=log:1e-4:1e-2 --storage sqlite:///tune.db

Each trial trains its config with seeds 0..K-1 on the experiment runner (local Ray, one CPU per
run; --address joins a cluster) and scores the IQM over seeds of the final evaluation returns;
evaluations during training feed the median pruner, which stops trials behind the median.
Trials are proposed by Optuna's TPE sampler. The study is kept in OUT/study.journal (or
--storage): running the same command again resumes it (a trial cut off by a kill is run again,
reusing its finished seeds), and several processes given the same --storage share the work.
OUT/summary.json, OUT/history.png and OUT/importances.png hold the result; the best config is
printed as --set flags and as an rlcore train command.
"""


def add_parsers(sub: Any) -> None:
    t = sub.add_parser(
        "tune",
        help="search config values with Optuna (TPE, median pruning), trials on Ray",
        description="Tune an agent's config fields with Optuna: each trial is scored by the "
        "IQM over seeds of its final evaluation returns.",
        epilog=TUNE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("algo", help="algorithm key, e.g. ppo (see `list`)")
    t.add_argument("env_id", help="Gymnasium env id, e.g. CartPole-v1")
    t.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="SPEC",
        help="a searched config field, e.g. lr=log:1e-5:1e-2; repeatable (see below)",
    )
    t.add_argument(
        "--trials", type=int, default=20, metavar="N", help="trials the study should hold (default 20)"
    )
    t.add_argument("--seeds", type=int, default=2, metavar="K", help="seeds 0..K-1 per trial (default 2)")
    t.add_argument("--steps", type=int, default=20_000, metavar="N", help="env steps per run (default 20000)")
    t.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a config field fixed for every trial; repeatable",
    )
    t.add_argument(
        "--part",
        dest="parts",
        action="append",
        default=[],
        metavar="ROLE=KEY",
        help="a part for every trial, e.g. --part encoder=identity; repeatable",
    )
    t.add_argument(
        "--num-envs", type=int, default=None, metavar="N", help="parallel envs per run (default: per agent)"
    )
    t.add_argument(
        "--evals",
        type=int,
        default=4,
        metavar="N",
        help="evaluations during each run, for pruning (default 4; 0 turns pruning off)",
    )
    t.add_argument(
        "--eval-episodes", type=int, default=10, metavar="N", help="episodes per evaluation (default 10)"
    )
    _study_args(t)


def _study_args(t: argparse.ArgumentParser) -> None:
    """Where the study lives and how its runs are executed."""
    t.add_argument("--out", default=None, metavar="DIR", help="study folder (default runs/tune-<algo>-<env>)")
    t.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="study storage: a journal file path (default "
        "OUT/study.journal) or a database URL such as sqlite:///tune.db",
    )
    t.add_argument(
        "--study-name",
        default=None,
        metavar="NAME",
        help="study name inside the storage (default <algo>-<env>)",
    )
    t.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="W",
        help="runs trained at once on a local Ray (default 2); workers / seeds trials run side by side",
    )
    t.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="join an existing Ray cluster (e.g. auto or HOST:6379)",
    )
    t.add_argument(
        "--backend", default="ray", metavar="B", help="ray (default) or serial (in this process, no pruning)"
    )
    t.add_argument(
        "--sampler-seed", type=int, default=None, metavar="N", help="seed of the TPE sampler (default random)"
    )
    t.add_argument("--json", action="store_true", help="print summary.json's content as the last stdout line")


def _fixed(sets: list[str]) -> dict[str, Any]:
    from rlcore.cli_sweep import parse_value
    from rlcore.config import parse_assignments

    return {k: parse_value(v) for k, v in parse_assignments(sets).items()}


def cmd_tune(args: argparse.Namespace) -> int:
    import json

    from rlcore.envs import check_env_id
    from rlcore.tune import Tuner, parse_params
    from rlcore.tune.output import describe

    from rlcore.cli import _parts

    check_env_id(args.env_id)
    if args.num_envs is not None and args.num_envs < 1:
        raise RLCoreError(f"--num-envs must be at least 1; got {args.num_envs}.")
    params = parse_params(args.params)
    out = args.out or f"runs/tune-{args.algo}-{args.env_id.replace(':', '_').replace('/', '_')}"
    tuner = Tuner(
        args.algo,
        args.env_id,
        params,
        out=out,
        trials=args.trials,
        seeds=args.seeds,
        steps=args.steps,
        fixed=_fixed(args.sets),
        storage=args.storage,
        study_name=args.study_name,
        workers=args.workers,
        address=args.address,
        backend=args.backend,
        eval_episodes=args.eval_episodes,
        evals=args.evals,
        sampler_seed=args.sampler_seed,
        parts=_parts(args.parts),
        num_envs=args.num_envs,
        on_trial=lambda info: print(info["line"], flush=True),
    )
    print(
        f"Tuning {args.algo} on {args.env_id}: {args.trials} trials x {args.seeds} seed(s) x {args.steps} steps, "
        f"searching {', '.join(p.text() for p in params)}; study in {out}.",
        file=sys.stderr,
        flush=True,
    )
    summary = tuner.run()
    print(describe(summary))
    if args.json:
        print(json.dumps(summary, default=str))
    return 0 if summary["best"] else 1


COMMANDS = {"tune": cmd_tune}
