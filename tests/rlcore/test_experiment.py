"""Experiments: the same per-seed results serially, on Ray and alone; skipping finished runs;
groups and intervals; failed runs reported; events; the sweep CLI's bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rlcore import make_agent
from rlcore.cli import main
from rlcore.errors import RLCoreError
from rlcore.experiment import EVENT_PREFIX, Experiment
from rlcore.experiment.aggregate import aggregate

GRID = dict(algos=["ppo", "a2c"], envs=["CartPole-v1"], seeds=[0, 1], steps=2000, eval_episodes=5)


def _scores(result) -> dict[tuple[str, int], float]:
    return {(r["label"], r["seed"]): r["eval"]["return_mean"] for r in result.runs}


def _episodes(run_dir) -> str:
    return (Path(run_dir) / "episodes.csv").read_text()


@pytest.mark.slow
def test_grid_gives_identical_results_serially_on_ray_and_alone(tmp_path):
    serial = Experiment(out=tmp_path / "serial", **GRID).run(backend="serial")
    ray_result = Experiment(out=tmp_path / "ray", **GRID).run(backend="ray", workers=2)
    assert [r["state"] for r in ray_result.runs] == ["done"] * 4
    assert _scores(serial) == _scores(ray_result)
    for a, b in zip(serial.runs, ray_result.runs):
        assert _episodes(a["run_dir"]) == _episodes(b["run_dir"]), a["label"]
    alone = make_agent("a2c", "CartPole-v1", seed=1).train(2000, out=tmp_path / "alone", eval_episodes=5,
                                                           progress=False, tensorboard=False)
    assert alone["eval"]["return_mean"] == _scores(serial)[("a2c", 1)]
    assert ray_result.report["groups"].keys() == {"ppo", "a2c"}
    assert Path(ray_result.artifacts["plot"]).is_file()
    import ray

    assert not ray.is_initialized(), "a Ray instance the experiment started is shut down"


def test_finished_runs_are_skipped_and_half_written_ones_redone(tmp_path, capsys):
    exp = Experiment(out=tmp_path, algos=["ppo"], envs=["CartPole-v1"], seeds=[0, 1], steps=300,
                     eval_episodes=2, common={"config": {"n_steps": 64}})
    first = exp.run(backend="serial")
    assert [r["state"] for r in first.runs] == ["done", "done"]
    again = exp.run(backend="serial", events=True)
    assert [r["state"] for r in again.runs] == ["skipped", "skipped"]
    assert again.report == first.report
    events = [json.loads(line[len(EVENT_PREFIX):]) for line in capsys.readouterr().out.splitlines()
              if line.startswith(EVENT_PREFIX)]
    assert [e["state"] for e in events if e["event"] == "run"] == ["skipped", "skipped"]
    assert events[-1]["event"] == "report" and events[-1]["report"] == first.report
    half = Path(first.runs[1]["run_dir"])
    (half / "run.json").unlink()  # interrupted before the end
    third = exp.run(backend="serial")
    assert [r["state"] for r in third.runs] == ["skipped", "done"]
    assert third.report == first.report, "the redone run gives the same result"
    changed = Experiment(out=tmp_path, algos=["ppo"], envs=["CartPole-v1"], seeds=[0], steps=320,
                         eval_episodes=2, common={"config": {"n_steps": 64}})
    assert changed.run(backend="serial").runs[0]["state"] == "done", "another spec is not skipped"


def test_events_report_each_state_change(tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setenv("RLCORE_EVENTS", "1")
    Experiment(out=tmp_path, algos=["a2c"], envs=["CartPole-v1"], seeds=[3], steps=200,
               eval_episodes=2).run(backend="serial", on_event=seen.append)
    printed = [json.loads(line[len(EVENT_PREFIX):]) for line in capsys.readouterr().out.splitlines()
               if line.startswith(EVENT_PREFIX)]
    assert printed == json.loads(json.dumps(seen)), "stdout lines carry the same events"
    states = [e["state"] for e in seen if e["event"] == "run"]
    assert states[0] == "queued" and states[1] == "running" and states[-1] == "done"
    done = [e for e in seen if e.get("state") == "done"][0]
    assert done["seed"] == 3 and done["total"] == 200 and done["step"] >= 200
    assert isinstance(done["return_mean"], float) and done["error"] is None
    assert seen[-1]["event"] == "report" and set(seen[-1]["artifacts"]) == {"plot", "report", "report_json"}


def test_groups_name_every_varying_axis_but_seed(tmp_path):
    variants = {"lr=1e-3": {"config": {"lr": 1e-3}}, "lr=3e-4": {"config": {"lr": 3e-4}}}
    specs, _ = Experiment(out=tmp_path, algos=["ppo"], envs=["CartPole-v1"], seeds=[0, 1],
                          variants=variants).specs()
    assert sorted({s["group"] for s in specs}) == ["ppo/lr=1e-3", "ppo/lr=3e-4"]
    assert specs[0]["config"] == {"lr": 1e-3} and specs[0]["run_dir"].endswith("runs/ppo_lr=1e-3-seed0")
    specs, _ = Experiment(out=tmp_path, algos=["ppo", "a2c"], envs=["CartPole-v1", "Acrobot-v1"],
                          seeds=[0], common={"num_envs": 2}).specs()
    assert sorted({s["group"] for s in specs}) == ["a2c", "ppo"]  # envs are tasks inside each group
    assert sorted({s["label"] for s in specs}) == ["a2c/Acrobot-v1", "a2c/CartPole-v1", "ppo/Acrobot-v1",
                                                   "ppo/CartPole-v1"]
    assert all(s["num_envs"] == 2 for s in specs)
    specs, _ = Experiment(out=tmp_path, algos=["ppo"], envs=["CartPole-v1", "Acrobot-v1"], seeds=[0]).specs()
    assert sorted({s["group"] for s in specs}) == ["ppo/Acrobot-v1", "ppo/CartPole-v1"]


def _fake_runs(scores: dict[tuple[str, str], list[float]], failed: int = 0) -> list[dict]:
    runs = []
    for (group, task), values in scores.items():
        for seed, score in enumerate(values):
            runs.append({"label": f"{group}/{task}", "group": group, "task": task, "seed": seed, "state": "done",
                         "score": score, "run_dir": f"/nonexistent/{group}-{task}-{seed}"})
    runs += [{"label": "x", "group": "ppo", "task": "A", "seed": 99, "state": "failed", "score": None,
              "run_dir": "/nonexistent/f", "error": "RuntimeError: boom"}] * failed
    return runs


def test_report_intervals_verdict_and_normalisation(tmp_path):
    rng = np.random.default_rng(0)
    clear = {("ppo", "A"): list(400 + 10 * rng.random(8)), ("a2c", "A"): list(100 + 10 * rng.random(8))}
    report, artifacts = aggregate(_fake_runs(clear), tmp_path, metric="iqm")
    ppo, a2c = report["groups"]["ppo"], report["groups"]["a2c"]
    assert ppo["lower"] <= ppo["point"] <= ppo["upper"] and ppo["runs"] == 8
    assert report["best"] == "ppo" and report["verdict"].startswith("ppo scored higher than a2c (IQM 4")
    assert report["improvement"] == [{"x": "ppo", "y": "a2c", "probability": 1.0}]
    assert artifacts["plot"] is None and Path(artifacts["report"]).read_text().startswith("# Experiment report")
    close = {("ppo", "A"): [1.0, 2.0, 3.0, 4.0], ("a2c", "A"): [1.5, 2.5, 3.5, 4.5]}
    report, _ = aggregate(_fake_runs(close, failed=1), tmp_path, metric="mean")
    assert report["verdict"].startswith("No clear winner: the intervals of a2c (mean 3")
    assert report["verdict"].endswith("1 of 9 runs failed.") and report["runs_failed"] == 1
    assert report["groups"]["a2c"]["point"] == pytest.approx(3.0)
    two_tasks = {("ppo", "A"): [10.0, 20.0], ("ppo", "B"): [-100.0, -50.0],
                 ("a2c", "A"): [0.0, 5.0], ("a2c", "B"): [-200.0, -150.0]}
    report, _ = aggregate(_fake_runs(two_tasks), tmp_path, metric="mean")
    assert report["normalized"] and report["tasks"] == ["A", "B"]
    # per task min-max over all runs: ppo A -> 0.5, 1.0; B -> 2/3, 1.0
    assert report["groups"]["ppo"]["point"] == pytest.approx((0.5 + 1.0 + 2 / 3 + 1.0) / 4)
    assert report["groups"]["ppo"]["runs"] == 4


class Crashes(gym.Wrapper):
    """CartPole that raises on its 10th step (a run that fails mid-training)."""

    def __init__(self):
        super().__init__(gym.make("CartPole-v1"))
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps >= 10:
            raise RuntimeError("the simulator crashed")
        return self.env.step(action)


def test_a_failed_run_is_reported_and_the_others_go_on(tmp_path):
    result = Experiment(out=tmp_path, algos=["a2c"], envs={"CartPole-v1": "CartPole-v1", "crashy": Crashes},
                        seeds=[0], steps=200, eval_episodes=2).run(backend="serial")
    states = {r["label"]: r["state"] for r in result.runs}
    assert states == {"a2c/CartPole-v1": "done", "a2c/crashy": "failed"}
    failed = [r for r in result.runs if r["state"] == "failed"][0]
    assert failed["error"] == "RuntimeError: the simulator crashed"
    assert "Traceback" in (Path(failed["run_dir"]) / "error.txt").read_text()
    assert result.report["runs_failed"] == 1 and "1 of 2 runs failed" in result.report["verdict"]
    assert result.report["failures"][0]["error"] == "RuntimeError: the simulator crashed"


@pytest.mark.parametrize("kwargs, message", [
    (dict(algos=["ppo", "nope"]), "Unknown algorithm 'nope'"),
    (dict(envs=["CartPol-v1"]), "Unknown env id 'CartPol-v1'"),
    (dict(seeds=[]), "seeds is empty"),
    (dict(steps=0), "steps 0 is not a positive integer"),
    (dict(metric="median"), "Unknown metric 'median'; accepted: iqm, mean."),
    (dict(variants={"v": {"lr": 1}}), "Variant 'v' has unknown key 'lr'"),
    (dict(variants={"v": {"config": {"lrr": 1}}}), "Unknown PPO config field 'lrr'"),
    (dict(common={"parts": {"encoder": "nope"}}), "Unknown encoder 'nope'"),
])
def test_bad_settings_are_refused_in_one_sentence(tmp_path, kwargs, message):
    settings = {**dict(out=tmp_path, algos=["ppo"], envs=["CartPole-v1"], seeds=[0], steps=100), **kwargs}
    with pytest.raises(RLCoreError, match=re.escape(message)):
        Experiment(**settings).run(backend="serial")
    assert not (tmp_path / "runs").exists(), "nothing trains before the settings are checked"


@pytest.mark.parametrize("argv, message", [
    (["--algo", "ppo,xyz", "--env", "CartPole-v1"], "Unknown algorithm 'xyz'"),
    (["--algo", "ppo", "--env", "CartPol-v1"], "Unknown env id 'CartPol-v1'"),
    (["--algo", "ppo", "--env", "CartPole-v1", "--vary", "lrr=1,2"], "Unknown PPO config field 'lrr'"),
    (["--algo", "ppo", "--env", "CartPole-v1", "--vary", "lr=abc"], "'lr' got 'abc', which is not a valid float"),
    (["--algo", "ppo", "--env", "CartPole-v1", "--vary", "lr"], "--vary expects FIELD=V1,V2"),
    (["--algo", "ppo", "--env", "CartPole-v1", "--seed-list", "1,x"], "--seed-list expects integers"),
    (["--algo", "ppo", "--env", "CartPole-v1", "--backend", "dask"], "Unknown backend 'dask'"),
    (["--algo", "ppo", "--env", "CartPole-v1", "--workers", "0"], "workers 0 is not a positive integer"),
])
def test_sweep_cli_bad_input_exits_2_with_one_sentence(tmp_path, capsys, argv, message):
    assert main(["sweep", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_sweep_cli_runs_a_grid_and_prints_the_result(tmp_path, capsys):
    argv = ["sweep", "--algo", "a2c", "--env", "CartPole-v1", "--vary", "lr=1e-3,3e-4", "--seed-list", "0,1",
            "--steps", "200", "--eval-episodes", "2", "--backend", "serial", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert set(result["report"]["groups"]) == {"a2c/lr=1e-3", "a2c/lr=3e-4"}
    assert result["runs"][0]["config"]["lr"] == pytest.approx(1e-3)
    assert result["report"]["verdict"] in captured.out
    assert "a2c/lr=1e-3 seed 1: done" in captured.err
    shutil.rmtree(tmp_path / "runs" / "a2c_lr=3e-4-seed1")
    assert main(argv) == 0
    states = [r["state"] for r in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"]]
    assert states == ["skipped", "skipped", "skipped", "done"]
