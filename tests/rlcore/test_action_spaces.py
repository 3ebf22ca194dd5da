"""MultiBinary and MultiDiscrete actions for PPO and A2C, and Dict observations end to end."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcore import make_agent
from rlcore.encoders.multi import MultiInputEncoder
from rlcore.envs import make_env
from rlcore.errors import RLCoreError
from rlcore.storage.spaces import action_spec

torch.set_num_threads(1)

BITS = "rlcore.envs.toy:BitMatch-v0"  # MultiBinary(6)
DIGITS = "rlcore.envs.toy:DigitMatch-v0"  # MultiDiscrete([3, 4], start=[-1, 0])
DICT = "rlcore.envs.toy:DictMatch-v0"  # Dict observation, Discrete(3) action


def _train(algo, env_id, config, steps, **parts):
    agent = make_agent(algo, env_id, config, seed=0, num_envs=8, **parts)
    agent.build()
    agent.reset_env()
    agent.total_steps = steps
    while agent.global_step < steps:
        agent.iterate()
    result = agent.evaluate(episodes=16)
    agent.env.close()
    return agent, result["return_mean"]


def test_action_specs_of_the_new_spaces():
    assert action_spec(gym.spaces.MultiBinary(5)) == ((5,), torch.int64)
    assert action_spec(gym.spaces.MultiDiscrete([2, 3])) == ((2,), torch.int64)
    with pytest.raises(RLCoreError, match="MultiBinary"):
        action_spec(gym.spaces.Text(4))


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
@pytest.mark.parametrize("env_id,dist", [(BITS, "bernoulli"), (DIGITS, "multi_categorical")])
def test_on_policy_agents_default_to_the_matching_distribution_and_act_validly(algo, env_id, dist):
    agent = make_agent(algo, env_id, {"n_steps": 4}, seed=0, num_envs=2)
    assert agent.parts["distribution"] == dist
    assert agent.accepted("distribution") == [dist]
    agent.build()
    agent.reset_env()
    for _ in range(3):
        _, metrics = agent.iterate()
        assert all(np.isfinite(v) for v in metrics.values())
    space = agent.action_space
    for deterministic in (True, False):
        actions = agent.act(agent.obs, deterministic=deterministic)
        assert actions.shape == (2, *space.shape) and not actions.is_floating_point()
        assert all(space.contains(a.astype(space.dtype)) for a in actions.numpy())
    agent.env.close()


def test_multidiscrete_start_is_added_before_stepping_the_env():
    agent = make_agent("ppo", DIGITS, num_envs=1)
    env_action = agent.to_env_action(torch.tensor([[0, 0], [2, 3]]), False)
    assert env_action.tolist() == [[-1, 0], [1, 3]]


def test_ppo_learns_a_multibinary_bandit_within_seconds():
    # six independent bits per step: random play scores 4 of 8, copying the bits scores 8
    _, score = _train("ppo", BITS, dict(lr=1e-2, n_steps=16, batch_size=64, n_epochs=4, gamma=0.0), 3000)
    assert score >= 7.5, score


def test_ppo_learns_a_multidiscrete_task_within_seconds():
    # random play scores about 2.3 of 8; it needs the start offset of the first sub-action
    _, score = _train("ppo", DIGITS, dict(lr=1e-2, n_steps=16, batch_size=64, n_epochs=4, gamma=0.0), 3000)
    assert score >= 7.5, score


def test_off_policy_agents_refuse_multi_action_spaces_in_one_sentence():
    with pytest.raises(RLCoreError, match=r"dqn cannot act in MultiBinary action space.*Discrete") as err:
        make_agent("dqn", BITS)
    assert "\n" not in str(err.value)
    with pytest.raises(RLCoreError, match="MultiDiscrete"):
        make_agent("sac", DIGITS)


# ----- Dict observations ----------------------------------------------------------------------
def test_gym_env_returns_dicts_of_tensors_with_final_observations():
    env = make_env(DICT, num_envs=2, seed=0)
    space = env.single_observation_space
    assert isinstance(space, gym.spaces.Dict) and space["goal"].shape == (3,)  # Discrete -> one-hot
    obs = env.reset()
    assert set(obs) == {"goal", "noise"} and obs["goal"].shape == (2, 3) and obs["noise"].shape == (2, 2)
    assert (obs["goal"].sum(1) == 1).all()
    for step in range(8):
        s = env.step(torch.zeros(2, dtype=torch.long))
        if step < 7:
            assert s.next_obs is s.obs or torch.equal(s.next_obs["noise"], s.obs["noise"])
    assert s.truncated.all() and not torch.equal(s.next_obs["noise"], s.obs["noise"])
    env.close()


def test_multi_input_encoder_concatenates_vectors_and_image_features():
    space = gym.spaces.Dict({"img": gym.spaces.Box(0, 255, (3, 16, 16), dtype=np.uint8),
                             "vec": gym.spaces.Box(-1, 1, (4,), dtype=np.float32)})
    enc = MultiInputEncoder(space, hidden=(), image_encoder="nature_cnn", image_kwargs={"features": 32})
    assert enc.out_dim == 32 + 4 and "img" in enc.images
    obs = {"img": torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8), "vec": torch.rand(5, 4)}
    out = enc(obs)
    assert out.shape == (5, 36)
    torch.testing.assert_close(out[:, 32:], obs["vec"])  # sorted keys: image features, then the vector
    with pytest.raises(RLCoreError, match="multi_input"):
        make_agent("ppo", DICT).set(encoder="mlp").build()


def test_ppo_trains_end_to_end_on_dict_observations():
    agent, score = _train("ppo", DICT, dict(lr=1e-2, n_steps=16, batch_size=64, n_epochs=4), 3000,
                          encoder="multi_input")
    assert agent.modules()["encoder"] == "multi_input"
    assert score >= 7.5, score  # random play scores about 2.7 of 8


@pytest.mark.parametrize("storage", ["replay", "nstep_replay", "prioritized_replay"])
def test_dqn_trains_on_dict_observations_with_every_replay_storage(storage):
    cfg = dict(learning_starts=32, train_freq=8, gradient_steps=2, batch_size=16, buffer_size=500)
    agent = make_agent("dqn", DICT, cfg, seed=0, num_envs=2, encoder="multi_input", storage=storage)
    agent.build()
    agent.reset_env()
    for _ in range(6):
        _, metrics = agent.iterate()
    assert np.isfinite(metrics["loss"])
    batch = agent.storage.sample(4)
    assert set(batch.obs) == {"goal", "noise"} and batch.next_obs["goal"].shape == (4, 3)
    assert agent.act(agent.obs).shape == (2,)
    agent.env.close()
