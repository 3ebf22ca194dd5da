"""Deterministic reading of the facts a request states (numbers, envs, algorithms, fields)."""

from __future__ import annotations

import pytest

from copilot.codegen.facts import find_hidden, read_facts, to_english
from copilot.codegen.numbers import chinese_to_int, normalize_numbers, parse_number


@pytest.mark.parametrize("text,value", [
    ("20k", 20_000), ("1e-3", 1e-3), ("3e-4", 3e-4), ("25,000", 25_000), ("1.5M", 1_500_000),
    ("0.99", 0.99), ("2 million", 2_000_000), (".5", 0.5)])
def test_parse_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text,value", [("两万", 20_000), ("一万五千", 15_000), ("2万", 20_000), ("十", 10),
                                        ("三千五百", 3_500), ("六千", 6_000)])
def test_chinese_numbers(text, value):
    assert chinese_to_int(text) == value


def test_number_words_become_digits():
    assert "50000 steps" in normalize_numbers("fifty thousand steps")
    assert "4 envs" in normalize_numbers("four envs")
    assert "Acrobot-v1" in normalize_numbers("Acrobot-v1")


def test_chinese_request_is_rewritten_in_english_terms():
    text = to_english("用SAC在Pendulum-v1上训练6000步，学习率为0.001")
    assert "SAC" in text and "Pendulum-v1" in text and "6000 steps" in text and "learning rate" in text


@pytest.mark.parametrize("request_text,expected", [
    ("Train PPO on CartPole-v1 for 25000 steps.", dict(algo="ppo", env_id="CartPole-v1", total_steps=25_000)),
    ("DQN on CartPole-v1, 20k steps, learning rate 1e-3.", dict(algo="dqn", total_steps=20_000, hyper={"lr": 1e-3})),
    ("use soft actor-critic to swing up the pendulum for 12,000 timesteps with seed=3",
     dict(algo="sac", env_id="Pendulum-v1", total_steps=12_000, seed=3)),
    ("Twin Delayed DDPG, continuous mountain car, 1.5e4 env steps, buffer of 50k",
     dict(algo="td3", env_id="MountainCarContinuous-v0", total_steps=15_000, hyper={"buffer_size": 50_000})),
    ("PPO on Acrobot-v1 with 16 parallel environments and 40000 steps, random seed 7",
     dict(algo="ppo", num_envs=16, seed=7, total_steps=40_000)),
    ("请用A2C在CartPole-v1上训练两万步，随机种子为5，使用4个并行环境，评估20个回合",
     dict(algo="a2c", env_id="CartPole-v1", total_steps=20_000, seed=5, num_envs=4, eval_episodes=20)),
    ("Train SAC on Pendulum-v1 for 5000 steps, evaluating over 10 episodes.", dict(eval_episodes=10)),
    ("TD3 on Pendulum-v1 for 9000 steps and save a checkpoint every 3000 steps",
     dict(total_steps=9000, checkpoint=True, checkpoint_every=3000)),
    ("PPO on CartPole-v1, 8000 steps, rollouts of 64 steps, 4 epochs, entropy coefficient 0.01",
     dict(total_steps=8000, hyper={"n_epochs": 4, "ent_coef": 0.01})),
    ("Train A2C with the RND bonus on CartPole-v1 for 8000 steps.", dict(parts={"reward": "rnd"})),
    ("PPO with curiosity (ICM) on MountainCar-v0", dict(env_id="MountainCar-v0", parts={"reward": "icm"})),
    ("Train PPO on a made-up env NotAnEnv-v0.", dict(env_id=None, unknown_env="NotAnEnv-v0", total_steps=None)),
    ("dqn cartpole, 30k frames, epsilon 0.05, two hidden layers of 128 units, normalize observations",
     dict(env_id="CartPole-v1", total_steps=30_000,
          hyper={"exploration_final_eps": 0.05, "hidden": [128, 128], "normalize_obs": True})),
    ("SAC on Pendulum-v1, target entropy -2, exploration noise std 0.2, 3000 steps",
     dict(total_steps=3000, hyper={"target_entropy": -2, "exploration_noise": 0.2})),
    ("deep Q-network on cartpole, 10k steps, hidden layer size 128", dict(algo="dqn", hyper={"hidden": [128, 128]})),
    ("PPO在CartPole-v1上训练1万步，并行环境数为8，折扣因子0.97", dict(total_steps=10_000, num_envs=8, hyper={"gamma": 0.97})),
])
def test_read_facts(request_text, expected):
    facts = read_facts(request_text)
    for key, want in expected.items():
        got = getattr(facts, key)
        if isinstance(want, dict) and key == "hyper":
            for name, value in want.items():
                assert got.get(name) == pytest.approx(value) if not isinstance(value, list) else got.get(name) == value
        else:
            assert got == want, (key, got)


def test_step_counts_tied_to_every_or_rollouts_are_not_the_total():
    facts = read_facts("SAC on Pendulum-v1: learning starts after 1000 steps, evaluate every 2000 steps, 6000 steps")
    assert facts.total_steps == 6000
    assert read_facts("PPO on CartPole-v1 with n_steps 256").total_steps is None


def test_hidden_layer_phrasings():
    assert find_hidden("a 64x64 network") == [64, 64]
    assert find_hidden("hidden sizes [256, 128]") == [256, 128]
    assert find_hidden("3 hidden layers of 32 units") == [32, 32, 32]
    assert find_hidden("no network size given") is None
    assert find_hidden("PPO with 2 hidden layers for 10000 steps") is None  # a count, not a width


def test_mentions_matches_whole_words():
    facts = read_facts("Train PPO with gamma 0.98 on CartPole-v1")
    assert facts.mentions("gamma") and not facts.mentions("gam")


@pytest.mark.parametrize("text,parts", [
    ("Add RND curiosity to PPO on MountainCar-v0", {"reward": "rnd"}),
    ("PPO with intrinsic curiosity on MountainCar-v0", {"reward": "icm"}),
    ("A2C with the RE3 bonus", {"reward": "re3"}),
])
def test_a_named_reward_key_beats_a_generic_word(text, parts):
    assert read_facts(text).parts == parts


@pytest.mark.parametrize("text,hyper", [
    ("DQN on CartPole-v1 for 20000 steps, updating the target network every 500 steps",
     {"target_update_interval": 500}),
    ("DQN, target network updated every 1000 steps, train every 4 steps", {"target_update_interval": 1000,
                                                                          "train_freq": 4}),
    ("every 2000 steps update the target network", {"target_update_interval": 2000}),
])
def test_intervals_map_to_their_fields(text, hyper):
    facts = read_facts(text)
    assert {k: facts.hyper[k] for k in hyper} == hyper


def test_algorithm_names_with_versions_are_not_env_ids():
    facts = read_facts("Train DrQ-v2 from pixels on Pendulum-v1 for 5000 steps")
    assert (facts.algo, facts.env_id, facts.unknown_env) == ("drqv2", "Pendulum-v1", None)
    assert read_facts("Train DrQ-v2 from pixels").unknown_env is None
