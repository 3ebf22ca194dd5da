"""rlcore tune: --param parsing, field checks, pruning, a tiny real study that resumes, best-config output."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from rlcore.cli import build_parser, main
from rlcore.errors import RLCoreError
from rlcore.tune import FORMS, Param, Tuner, parse_param, parse_params
from rlcore.tune.watch import HOST, Watch

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(trials=3, seeds=1, steps=1000, backend="serial", eval_episodes=2, evals=1, sampler_seed=0)


@pytest.mark.parametrize(
    "spec, want",
    [
        ("lr=log:1e-5:1e-2", Param("lr", "log", 1e-5, 1e-2)),
        ("gamma=float:0.9:0.999", Param("gamma", "float", 0.9, 0.999)),
        ("n_epochs=int:2:20", Param("n_epochs", "int", 2, 20)),
        ("batch_size=choice:64,128,256", Param("batch_size", "choice", choices=(64, 128, 256))),
        ("activation=choice:tanh,relu", Param("activation", "choice", choices=("tanh", "relu"))),
    ],
)
def test_param_forms(spec, want):
    assert parse_param(spec) == want
    assert parse_param(want.text()) == want


@pytest.mark.parametrize(
    "spec",
    [
        "lr",
        "lr=1e-3",
        "lr=lin:1:2",
        "lr=log:1e-5",
        "lr=log:0:1",
        "lr=log:1e-2:1e-5",
        "lr=float:a:b",
        "n_epochs=int:1.5:3",
        "bs=choice:64",
        "=log:1:2",
        "lr=log:1:inf",
    ],
)
def test_bad_param_refused_naming_value_and_forms(spec):
    with pytest.raises(RLCoreError) as err:
        parse_param(spec)
    msg = str(err.value)
    assert repr(spec) in msg and FORMS in msg and msg.count(". ") == 0


def test_params_duplicate_and_empty():
    with pytest.raises(RLCoreError, match="given twice"):
        parse_params(["lr=log:1e-4:1e-2", "lr=float:0.1:0.2"])
    with pytest.raises(RLCoreError, match="No --param"):
        parse_params([])


def test_fields_checked_against_config(tmp_path):
    with pytest.raises(RLCoreError) as err:
        Tuner("ppo", "CartPole-v1", parse_params(["learning_rate=log:1e-5:1e-2"]), out=tmp_path)
    assert "'learning_rate'" in str(err.value) and "gamma" in str(err.value) and "lr" in str(err.value)
    with pytest.raises(RLCoreError, match="integer field"):
        Tuner("ppo", "CartPole-v1", parse_params(["n_epochs=float:1:5"]), out=tmp_path)
    with pytest.raises(RLCoreError, match="both searched"):
        Tuner("ppo", "CartPole-v1", parse_params(["lr=log:1e-5:1e-2"]), out=tmp_path, fixed={"lr": 1e-3})


def test_cli_refuses_in_one_line(capsys):
    assert main(["tune", "ppo", "CartPole-v1", "--param", "lr=lin:1:2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'lr=lin:1:2'" in err[0] and "name=choice:a,b,c" in err[0]
    assert main(["tune", "ppo", "CartPole-v1", "--param", "dropout=float:0:0.5"]) == 2
    assert "Unknown ppo config field 'dropout'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["tune", "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0 and FORMS in text and "--storage" in text and "resumes" in text


def test_watch_reports_iqm_and_prunes(tmp_path):
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    )
    good = study.ask()
    for step, value in ((100, 400.0), (200, 450.0)):
        good.report(value, step)
    study.tell(good, 450.0)
    trial = study.ask()
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]
    watch = Watch(trial, dirs, prune=True)
    watch({"run_dir": dirs[0]}, {"state": "running", "evals": [[100, 20.0]]})
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {}  # seed b has no evaluation yet
    with pytest.raises(optuna.TrialPruned):
        watch({"run_dir": dirs[1]}, {"state": "running", "evals": [[100, 30.0]]})
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {100: 25.0}


def _counts(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())["trials"]


def test_tiny_study_resumes_and_prints_best(tmp_path, capsys):
    params = parse_params(["lr=log:1e-4:1e-2"])
    first = Tuner("ppo", "CartPole-v1", params, out=tmp_path, **{**TINY, "trials": 2}).run()
    assert first["trials"]["complete"] == 2
    # Restart with a target of 3: only the missing trial runs; the first two stay.
    lines = []
    result = Tuner(
        "ppo", "CartPole-v1", params, out=tmp_path, **TINY, on_trial=lambda i: lines.append(i["line"])
    ).run()
    assert (
        result["trials"]["complete"] == 3
        and len(lines) == 1
        and lines[0].startswith("trial 2 [3/3] complete")
    )
    assert len(list((tmp_path / "trials").iterdir())) == 3
    best = result["best"]
    assert best["value"] == max(json.loads((tmp_path / "summary.json").read_text())["best"]["scores"])
    assert best["set_flags"] == f"--set lr={best['params']['lr']:.6g}"
    args = build_parser().parse_args(shlex.split(best["command"])[3:])
    assert (args.command, args.algo, args.env_id, args.steps) == ("train", "ppo", "CartPole-v1", 1000)
    assert float(args.sets[0].split("=")[1]) == pytest.approx(best["params"]["lr"], rel=1e-5)
    assert Path(result["plots"]["history"]).stat().st_size > 1000
    assert Path(result["plots"]["importances"]).stat().st_size > 1000
    with pytest.raises(RLCoreError, match="steps = 1000, not 2000"):
        Tuner("ppo", "CartPole-v1", params, out=tmp_path, **{**TINY, "steps": 2000}).run()


def test_trial_of_a_dead_worker_is_run_again(tmp_path):
    """A trial left RUNNING by a killed process is failed and its parameters run again."""
    params = parse_params(["lr=log:1e-4:1e-2"])
    tuner = Tuner("ppo", "CartPole-v1", params, out=tmp_path, **TINY)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study = tuner.study()
    cut = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)})
    cut.set_user_attr("worker", f"{HOST}:{dead.pid}")
    result = tuner.run()
    trials = study.get_trials()
    assert trials[cut.number].state.name == "FAIL"
    retry = [t for t in trials if t.user_attrs.get("retry_of") == cut.number]
    assert len(retry) == 1 and retry[0].params == cut.params and retry[0].state.name == "COMPLETE"
    assert result["requeued"] == [cut.number] and result["trials"]["complete"] == 3


@pytest.mark.slow
def test_kill_9_then_restart_resumes(tmp_path):
    """The CLI killed with SIGKILL mid-trial; the same command again finishes the study."""
    cmd = [
        sys.executable,
        "-m",
        "rlcore",
        "tune",
        "ppo",
        "CartPole-v1",
        "--param",
        "lr=log:1e-4:1e-2",
        "--trials",
        "3",
        "--seeds",
        "1",
        "--steps",
        "4000",
        "--backend",
        "serial",
        "--evals",
        "1",
        "--eval-episodes",
        "2",
        "--sampler-seed",
        "0",
        "--out",
        str(tmp_path),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("trials/*/runs/*/status.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = _counts(tmp_path)
    assert counts["complete"] == 3 and counts["cut_off"] == 1, counts
    assert "Train it: python -m rlcore train ppo CartPole-v1 --steps 4000" in done.stdout


@pytest.mark.slow
def test_runs_in_flight_are_cancelled_when_a_trial_is_pruned(tmp_path):
    """An exception from the runner's emit callback (a pruned trial) cancels its Ray tasks."""
    import ray

    from rlcore.experiment import Experiment
    from rlcore.experiment.backends import run_ray, start_ray

    specs, factories = Experiment(out=tmp_path, algos=["ppo"], envs=["CartPole-v1"], seeds=[0],
                                  steps=2_000_000, eval_episodes=1).specs()

    def emit(spec, status):
        if status.get("state") == "running" and status.get("step"):
            raise optuna.TrialPruned("stop")

    assert start_ray(1, None)
    try:
        with pytest.raises(optuna.TrialPruned):
            run_ray(specs, factories, emit, 1, None)
        deadline = time.time() + 30
        while time.time() < deadline and ray.available_resources().get("CPU", 0) < 1:
            time.sleep(0.5)
        assert ray.available_resources().get("CPU", 0) == 1  # the task no longer holds its CPU
        assert not (Path(specs[0]["run_dir"]) / "run.json").exists()
    finally:
        ray.shutdown()
