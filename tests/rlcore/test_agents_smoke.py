"""Every agent trains a few hundred steps end to end; checkpoints, resume and part swaps."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from rlcore import make_agent, make_env, registry
from rlcore.encoders import IdentityEncoder, MlpEncoder
from rlcore.envs import NormalizeObservation
from rlcore.envs.torch_native import TorchVecEnv
from rlcore.evaluation.rollout import make_eval_env

torch.set_num_threads(1)

RUN_KEYS = ["algo", "env", "seed", "total_steps", "num_envs", "device", "config", "modules",
            "obs_shape", "action_space", "eval", "checkpoint", "wall_time_s", "update_path",
            "rlcore_version"]
SMALL = {  # tiny settings so each run takes about a second
    "ppo": dict(n_steps=32, batch_size=32, n_epochs=2),
    "a2c": dict(n_steps=8),
    "dqn": dict(learning_starts=64, train_freq=16, gradient_steps=4, batch_size=32, buffer_size=1000,
                hidden=(32,)),
    "sac": dict(learning_starts=64, batch_size=32, buffer_size=1000, hidden=(32, 32)),
    "td3": dict(learning_starts=64, batch_size=32, buffer_size=1000, hidden=(32, 32)),
    "ddpg": dict(learning_starts=64, batch_size=32, buffer_size=1000, hidden=(32, 32)),
    "drqv2": dict(learning_starts=64, batch_size=16, buffer_size=1000, hidden=(32, 32), image_size=16),
    "ppg": dict(n_steps=32, batch_size=32, n_policy_iters=2, aux_epochs=1, aux_batch_size=32),
    "daac": dict(n_steps=32, batch_size=32, value_epochs=2),
}
CASES = [("ppo", "CartPole-v1"), ("ppo", "Pendulum-v1"), ("a2c", "CartPole-v1"), ("a2c", "Pendulum-v1"),
         ("dqn", "CartPole-v1"), ("sac", "Pendulum-v1"), ("td3", "Pendulum-v1"), ("ddpg", "Pendulum-v1"),
         ("drqv2", "Pendulum-v1"), ("ppg", "CartPole-v1"), ("daac", "Pendulum-v1")]
TRAIN = dict(eval_episodes=2, progress=False, tensorboard=False)


def test_every_registered_agent_has_a_smoke_case():
    assert sorted({a for a, _ in CASES}) == registry.keys("agents")


def _agent(algo, env_id, **kwargs):
    return make_agent(algo, env_id, SMALL[algo], seed=0, num_envs=2, **kwargs)


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each case trained once for 300 steps: (agent, manifest, run folder)."""
    runs = {}
    for algo, env_id in CASES:
        out = tmp_path_factory.mktemp(f"{algo}-{env_id}")
        agent = _agent(algo, env_id)
        runs[algo, env_id] = (agent, agent.train(300, out=out, **TRAIN), out)
    return runs


@pytest.mark.parametrize("algo,env_id", CASES)
def test_train_writes_a_complete_run_folder(trained, algo, env_id):
    agent, manifest, out = trained[algo, env_id]
    on_disk = json.loads((out / "run.json").read_text())
    assert list(on_disk) == RUN_KEYS
    assert on_disk == manifest
    assert manifest["algo"] == algo and manifest["env"] == env_id and manifest["seed"] == 0
    assert 300 <= manifest["total_steps"] == agent.global_step < 400
    assert manifest["num_envs"] == 2 and manifest["device"] == "cpu"
    assert manifest["config"]["gamma"] == agent.config.gamma
    assert manifest["modules"] == agent.modules() and list(manifest["modules"]) == list(registry.ROLES)
    assert manifest["obs_shape"] == list(agent.env.single_observation_space.shape)
    assert manifest["action_space"]["type"] == type(agent.action_space).__name__
    assert set(manifest["eval"]) == {"episodes", "return_mean", "return_std"}
    assert manifest["eval"]["episodes"] == 2 and isinstance(manifest["eval"]["return_mean"], float)
    assert manifest["wall_time_s"] > 0 and manifest["rlcore_version"]
    assert (out / manifest["checkpoint"]).is_file()
    steps = [int(row["step"]) for row in _read_csv(out / "progress.csv")]
    assert steps and steps[-1] == manifest["total_steps"]
    assert steps == sorted(set(steps)), "one progress row per logged step"
    with open(out / "episodes.csv", newline="") as f:
        assert next(csv.reader(f)) == ["step", "return", "length"]
    if env_id == "CartPole-v1":  # random early play ends CartPole episodes quickly
        episodes = _read_csv(out / "episodes.csv")
        assert episodes and all(float(e["return"]) == float(e["length"]) for e in episodes)
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("algo,env_id", CASES)
def test_checkpoint_round_trip(trained, algo, env_id):
    agent, manifest, out = trained[algo, env_id]
    path = out / manifest["checkpoint"]
    state = torch.load(path, weights_only=True)
    assert int(state["global_step"]) == manifest["total_steps"]
    fresh = _agent(algo, env_id).load(path)
    assert fresh.global_step == agent.global_step
    space = agent.env.single_observation_space
    space.seed(0)
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(16)]), dtype=torch.float32)
    assert torch.equal(agent.act(obs), fresh.act(obs))
    for name, module in agent.networks().items():
        if isinstance(module, torch.nn.Module):
            loaded = fresh.networks()[name].state_dict()
            for k, value in module.state_dict().items():
                assert torch.equal(value, loaded[k]), f"{name}.{k}"
    assert agent.evaluate(2, seed=5) == fresh.evaluate(2, seed=5)
    # the same seed builds the same initial weights, so the checkpoint is what made them equal
    trained_params, initial = _params(agent), _params(_agent(algo, env_id).build())
    assert any(not torch.equal(p, q) for p, q in zip(trained_params, initial)), "training changed nothing"


def _params(agent) -> list[torch.Tensor]:
    return [p for m in agent.networks().values() if isinstance(m, torch.nn.Module) for p in m.parameters()]


def test_checkpoint_restores_observation_statistics(tmp_path):
    agent = make_agent("ppo", "CartPole-v1", dict(SMALL["ppo"], normalize_obs=True), seed=0, num_envs=2)
    agent.train(128, out=tmp_path, **TRAIN)
    fresh = make_agent("ppo", "CartPole-v1", dict(SMALL["ppo"], normalize_obs=True), seed=1, num_envs=2)
    fresh.load(tmp_path / "checkpoints" / "final.pt")
    a, b = agent.env.rms.state_dict(), fresh.env.rms.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["count"] > 100


def test_eval_env_matches_a_given_env_the_agent_wrapped():
    env = make_env("CartPole-v1", num_envs=2, seed=0, backend="torch")
    agent = make_agent("ppo", env, dict(SMALL["ppo"], normalize_obs=True), seed=0)
    agent.build()
    assert isinstance(agent.env, NormalizeObservation)  # the agent wrapped the env it was given
    agent.reset_env()
    for _ in range(5):
        agent.env.step(torch.zeros(2, dtype=torch.int64))
    eval_env = make_eval_env(agent, 2, seed=3)
    norm = eval_env.find(NormalizeObservation)
    assert norm is not None and not norm.training
    assert all(torch.equal(norm.rms.state_dict()[k], agent.env.rms.state_dict()[k]) for k in ("mean", "var"))
    assert isinstance(norm.env, TorchVecEnv), "the eval env keeps the backend of the given env"


def test_resume_continues_global_step_and_logs(tmp_path):
    first = _agent("ppo", "CartPole-v1").train(256, out=tmp_path, **TRAIN)
    assert first["total_steps"] == 256
    agent = _agent("ppo", "CartPole-v1").load(tmp_path / "checkpoints" / "final.pt")
    assert agent.global_step == 256
    second = agent.train(512, out=tmp_path, **TRAIN)
    assert second["total_steps"] == 512
    steps = [int(e["step"]) for e in _read_csv(tmp_path / "episodes.csv")]
    assert steps == sorted(steps) and steps[0] <= 256 < steps[-1], "episodes.csv must be appended"
    progress = [int(r["step"]) for r in _read_csv(tmp_path / "progress.csv")]
    assert progress == sorted(set(progress)) and progress[0] <= 256 and progress[-1] == 512
    # the same agent object also resumes in place
    third = agent.train(576, out=tmp_path, **TRAIN)
    assert third["total_steps"] == 576


def test_set_encoder_on_a_built_agent_rebuilds_the_network(tmp_path):
    agent = _agent("ppo", "CartPole-v1").build()
    assert isinstance(agent.policy.encoder, MlpEncoder)
    agent.set(encoder="identity")
    assert not agent.built and agent.modules()["encoder"] == "identity"
    agent.ensure_built()
    assert isinstance(agent.policy.encoder, IdentityEncoder)
    assert agent.policy.actor_head.in_features == 4
    manifest = agent.train(64, out=tmp_path, **TRAIN)
    assert manifest["modules"]["encoder"] == "identity"


def test_part_kwargs_reach_the_constructor():
    agent = _agent("ppo", "CartPole-v1", encoder_kwargs=dict(hidden=(8,)))
    agent.build()
    assert agent.policy.encoder.out_dim == 8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("algo,env_id", [("ppo", "CartPole-v1"), ("sac", "Pendulum-v1"),
                                         ("dqn", "CartPole-v1")])
def test_tiny_training_on_cuda(tmp_path, algo, env_id):
    agent = _agent(algo, env_id, device="cuda")
    manifest = agent.train(300, out=tmp_path, **TRAIN)
    assert manifest["device"].startswith("cuda")
    assert all(p.is_cuda for p in _params(agent))
    fresh = _agent(algo, env_id, device="cuda").load(tmp_path / manifest["checkpoint"])
    obs = agent.env.reset(seed=3)
    assert torch.equal(agent.act(obs), fresh.act(obs))
