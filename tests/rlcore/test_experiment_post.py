"""Post-training steps as API: evaluate a saved checkpoint, continue a run, export a policy;
custom env factories in experiments (on Ray from a user's script)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcore import make_agent
from rlcore.envs import make_env, register_env
from rlcore.errors import RLCoreError
from rlcore.evaluation import evaluate_checkpoint, load_agent
from rlcore.export import export, load_exported
from rlcore.trainer import TRAINING_STATE, load_training_state, resume

ROOT = Path(__file__).resolve().parents[2]
QUIET = dict(progress=False, tensorboard=False)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo")
    make_agent("ppo", "CartPole-v1", {"n_steps": 64}, seed=4).train(512, out=out, eval_episodes=3,
                                                                   checkpoint_every=256, **QUIET)
    return out


def test_evaluate_checkpoint_reloads_the_saved_agent(ppo_run):
    result = evaluate_checkpoint(ppo_run, episodes=6)
    assert set(result) >= {"run_dir", "checkpoint", "episodes", "return_mean", "return_std"}
    assert result["episodes"] == 6 and result["checkpoint"].endswith("checkpoints/final.pt")
    agent = make_agent("ppo", "CartPole-v1", {"n_steps": 64}, seed=4).load(ppo_run / "checkpoints" / "final.pt")
    assert result["return_mean"] == agent.evaluate(6)["return_mean"]
    manifest = json.loads((ppo_run / "run.json").read_text())
    assert evaluate_checkpoint(ppo_run, episodes=3)["return_mean"] == manifest["eval"]["return_mean"]
    name = sorted(p.name for p in (ppo_run / "checkpoints").glob("step_*.pt"))[0]
    early = evaluate_checkpoint(ppo_run, episodes=2, checkpoint=name, seed=7)
    assert early["checkpoint"].endswith(name) and early["episodes"] == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(checkpoint="step_9.pt"), "Checkpoint 'step_9.pt' is not in"),
    (dict(episodes=0), "episodes 0 is not a positive integer"),
])
def test_evaluate_checkpoint_bad_input(ppo_run, kwargs, message):
    with pytest.raises(RLCoreError, match=message):
        evaluate_checkpoint(ppo_run, **kwargs)
    with pytest.raises(RLCoreError, match="is not a run folder"):
        evaluate_checkpoint(ppo_run / "checkpoints")


def test_resume_adds_steps_and_appends_logs(tmp_path):
    make_agent("a2c", "CartPole-v1", seed=0).train(200, out=tmp_path, eval_episodes=2, **QUIET)
    before = _rows(tmp_path / "episodes.csv")
    manifest = resume(tmp_path, 160)
    assert manifest["total_steps"] == 360
    assert json.loads((tmp_path / "run.json").read_text())["total_steps"] == 360
    after = _rows(tmp_path / "episodes.csv")
    assert after[: len(before)] == before and len(after) > len(before)
    assert int(_rows(tmp_path / "progress.csv")[-1]["step"]) == 360
    with pytest.raises(RLCoreError, match="more_steps 0 is not a positive integer"):
        resume(tmp_path, 0)


def test_continue_cli_trains_more_steps(tmp_path, capsys):
    from rlcore.cli import main

    make_agent("a2c", "CartPole-v1", seed=0).train(160, out=tmp_path, eval_episodes=2, **QUIET)
    assert main(["continue", str(tmp_path), "--steps", "80", "--no-progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["total_steps"] == 240
    assert main(["continue", str(tmp_path / "nope"), "--steps", "80"]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_resume_restores_the_replay_storage_of_off_policy_agents(tmp_path):
    config = {"learning_starts": 50, "batch_size": 32}
    agent = make_agent("sac", "Pendulum-v1", config, seed=1)
    agent.train(120, out=tmp_path, eval_episodes=1, **QUIET)
    saved_obs = agent.storage.obs[:120].clone()
    restored, _ = load_agent(tmp_path)
    assert len(restored.storage) == 0
    assert load_training_state(restored, tmp_path / "checkpoints" / TRAINING_STATE)
    assert len(restored.storage) == 120 and restored.storage.pos == agent.storage.pos
    assert torch.equal(restored.storage.obs[:120], saved_obs)
    assert torch.equal(restored.generator.get_state(), agent.generator.get_state())
    assert resume(tmp_path, 80)["total_steps"] == 200


@pytest.mark.parametrize("algo, env, config", [
    ("td3", "Pendulum-v1", {"learning_starts": 50, "batch_size": 32}),
    ("a2c", "CartPole-v1", {}),
])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_returns_a_working_file(tmp_path, algo, env, config, fmt):
    agent = make_agent(algo, env, config, seed=0)
    agent.train(100, out=tmp_path, eval_episodes=0, **QUIET)
    path = export(tmp_path, fmt)
    assert Path(path).is_file() and Path(path).parent == tmp_path
    obs = np.random.default_rng(0).uniform(-1, 1, (5, agent.env.single_observation_space.shape[0]))
    got = load_exported(path, fmt)(obs.astype(np.float32))
    want = agent.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_make_env_accepts_an_env_factory():
    def short_cartpole():
        return gym.wrappers.TimeLimit(gym.make("CartPole-v1").unwrapped, max_episode_steps=5)

    env = make_env(short_cartpole, num_envs=2, seed=0)
    assert env.env_id == "short_cartpole" and env.num_envs == 2
    env.reset()
    for _ in range(5):
        step = env.step(torch.zeros(2, dtype=torch.int64))
    assert bool(step.truncated.all() | step.terminated.all())
    assert register_env("short_cartpole", short_cartpole) == "short_cartpole"  # same factory: no-op
    with pytest.raises(RLCoreError, match="'CartPole-v1' is already a registered Gymnasium id"):
        register_env("CartPole-v1", short_cartpole)


SCRIPT = '''
import json
import gymnasium as gym
from rlcore.experiment import Experiment


class Penalty(gym.RewardWrapper):
    def reward(self, reward):
        return reward - 0.5


def penalised_cartpole():
    return Penalty(gym.make("CartPole-v1"))


result = Experiment(out={out!r}, algos=["a2c"], envs={{"penalised": penalised_cartpole}}, seeds=[0, 1],
                    steps=300, eval_episodes=2).run(backend={backend!r}, workers=2, events=True)
print(json.dumps({{r["seed"]: r["eval"]["return_mean"] for r in result.runs}}))
'''


@pytest.mark.slow
def test_an_env_factory_in_a_script_runs_on_ray_like_serially(tmp_path):
    scores = {}
    for backend in ("serial", "ray"):
        script = tmp_path / f"sweep_{backend}.py"
        script.write_text(textwrap.dedent(SCRIPT.format(out=str(tmp_path / backend), backend=backend)))
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()),
                                                 "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = proc.stdout.strip().splitlines()
        events = [json.loads(x.split(" ", 1)[1]) for x in lines if x.startswith("@@rlcore.experiment ")]
        assert [e["state"] for e in events if e["event"] == "run" and e["state"] in ("done", "failed")] == \
            ["done", "done"], proc.stdout[-2000:]
        scores[backend] = json.loads(lines[-1])
        manifest = json.loads((tmp_path / backend / "runs" / "a2c-seed0" / "run.json").read_text())
        assert manifest["env"] == "penalised"
    assert scores["serial"] == scores["ray"]
