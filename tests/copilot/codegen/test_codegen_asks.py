"""Reading asks from requests with code: grid axes, statistics, post steps, written code, fixes."""

from __future__ import annotations

import pytest

from copilot.codegen.asks import read_asks
from copilot.codegen.facts import read_facts


def asks(text: str):
    return read_asks(text, read_facts(text).parts)


@pytest.mark.parametrize("text,algos,envs", [
    ("Compare A2C and PPO on CartPole-v1 with 3 seeds each", ["a2c", "ppo"], ["CartPole-v1"]),
    ("Benchmark PPO against A2C on CartPole-v1 and Acrobot-v1", ["ppo", "a2c"], ["CartPole-v1", "Acrobot-v1"]),
    ("compare SAC and TD3 on Pendulum", ["sac", "td3"], ["Pendulum-v1"]),
    ("用PPO和A2C在CartPole-v1和Acrobot-v1上比较", ["ppo", "a2c"], ["CartPole-v1", "Acrobot-v1"]),
    ("Train PPO on CartPole-v1 for 25000 steps.", ["ppo"], ["CartPole-v1"]),
])
def test_algorithms_and_envs_in_order(text, algos, envs):
    a = asks(text)
    assert a.algos == algos and a.envs == envs


@pytest.mark.parametrize("text,seeds", [
    ("PPO on CartPole-v1 with 3 seeds each", [0, 1, 2]),
    ("DQN on CartPole-v1 with seeds 1 to 4", [1, 2, 3, 4]),
    ("use seeds 0, 5 and 7", [0, 5, 7]),
    ("averaged over 2 seeds", [0, 1]),
    ("five random seeds please", [0, 1, 2, 3, 4]),
    ("用三个随机种子比较", [0, 1, 2]),
    ("PPO on Acrobot-v1 with 16 environments and 40000 steps, seed 7.", []),
])
def test_seeds(text, seeds):
    assert asks(text).seeds == seeds


@pytest.mark.parametrize("text,values", [
    ("SAC with learning rates 1e-3 and 3e-4 on Pendulum-v1", {"lr": [0.001, 0.0003]}),
    ("Try clip ranges 0.1, 0.2 and 0.3 for PPO", {"clip_range": [0.1, 0.2, 0.3]}),
    ("PPO with batch sizes 64 and 256", {"batch_size": [64, 256]}),
    ("gamma 0.9 vs 0.99 on CartPole", {"gamma": [0.9, 0.99]}),
    ("学习率1e-3和3e-4", {"lr": [0.001, 0.0003]}),
    ("PPO on CartPole-v1 with learning rate 3e-4", {}),
])
def test_value_lists(text, values):
    assert asks(text).values == values


def test_part_lists_and_toggles():
    assert asks("compare the mlp and identity encoders on CartPole-v1").parts == {"encoder": ["mlp", "identity"]}
    assert asks("用三个随机种子比较PPO在CartPole-v1上使用mlp和identity编码器的效果").parts == {
        "encoder": ["mlp", "identity"]}
    assert asks("PPO on Pendulum-v1 with and without observation normalization").toggles == ["normalize_obs"]
    assert asks("Show whether observation normalization helps PPO").toggles == ["normalize_obs"]
    assert asks("PPO on MountainCar-v0 with and without RND").toggles == ["reward=rnd"]
    assert not asks("PPO on Pendulum-v1 with observation normalization").is_grid()


@pytest.mark.parametrize("text,metric,compare,plot", [
    ("report the IQM across both tasks", "iqm", False, False),
    ("give me the mean return with a 95% confidence interval", "mean", False, False),
    ("which one is better?", None, True, False),
    ("Plot the learning curves in one figure", None, False, True),
    ("哪个更好，画在一张图里", None, True, True),
])
def test_statistics_and_plots(text, metric, compare, plot):
    a = asks(text)
    assert (a.metric, a.compare, a.plot) == (metric, compare, plot)


def test_post_steps():
    a = asks("Train TD3 on Pendulum-v1 for 4000 steps and export the actor to TorchScript and ONNX.")
    assert a.exports == ["onnx", "torchscript"]
    assert asks("训练PPO然后导出为ONNX").exports == ["onnx"]
    a = asks("Train A2C on Acrobot-v1 for 20000 steps, then reload the final checkpoint and evaluate it for 30 "
             "episodes.")
    assert a.evaluate_episodes == 30
    assert asks("Train SAC on Pendulum-v1 for 5000 steps, evaluating over 10 episodes.").evaluate_episodes is None
    a = asks("Train PPO on CartPole-v1 for 5000 steps and then continue the same run for another 3000 steps.")
    assert (a.more_steps, a.base_steps) == (3000, 5000)
    a = asks("Train PPO on CartPole-v1 for 20k steps, then resume it for 10k more steps")
    assert (a.more_steps, a.base_steps) == (10000, 20000)


def test_written_code_network_fix_and_tuning():
    a = asks("Train PPO on MountainCarContinuous-v0 for 20000 steps, adding 0.1 to the reward whenever the car's "
             "velocity is positive.")
    assert "0.1 to the reward whenever" in a.reward and a.custom_env is None
    assert asks("PPO on CartPole-v1 with reward normalization").reward is None
    assert asks("Create a custom Gymnasium environment: a 5x5 grid").custom_env
    a = asks("SAC on Pendulum-v1 with two hidden layers of 256 units and ReLU activations")
    assert (a.hidden, a.activation) == ([256, 256], "relu")
    assert asks("a 5x5 grid world for PPO").hidden is None
    assert asks("My DQN on MountainCar-v0 never gets past -200. Write a run that reaches the flag.").fix
    assert asks("Find a good learning rate for PPO on CartPole-v1").tune
    assert asks("tune the hyperparameters of SAC").tune
    assert not asks("Train PPO on CartPole-v1 with learning rate 1e-3").tune


def test_run_folder_path():
    assert asks("my run in runs/ppo-cartpole is stuck at 20, fix it").run_path == "runs/ppo-cartpole"
    assert asks("Train PPO on CartPole-v1").run_path is None
