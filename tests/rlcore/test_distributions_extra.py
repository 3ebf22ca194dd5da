"""bernoulli, multi_categorical, truncated_normal and ou_noise against references and their uses."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy import stats
from torch import distributions as D

from rlcore import make_agent
from rlcore.agents import offpolicy
from rlcore.distributions import Bernoulli, MultiCategorical, OUNoise, TruncatedNormal

torch.set_num_threads(1)
BOX = gym.spaces.Box(-2.0, 2.0, (3,), dtype=np.float32)


# ----- bernoulli ------------------------------------------------------------------------------
def test_bernoulli_matches_torch_reference():
    torch.manual_seed(0)
    head = Bernoulli(gym.spaces.MultiBinary((2, 3)))
    assert head.num_params == 6
    logits = torch.randn(7, 6) * 3
    dist = head(logits)
    a = dist.sample()
    assert a.shape == (7, 2, 3) and a.dtype == torch.int64 and set(a.unique().tolist()) <= {0, 1}
    ref = D.Bernoulli(logits=logits.reshape(7, 2, 3))
    torch.testing.assert_close(dist.log_prob(a), ref.log_prob(a.float()).sum((1, 2)))
    torch.testing.assert_close(dist.entropy(), ref.entropy().sum((1, 2)))
    assert torch.equal(dist.mode, (logits.reshape(7, 2, 3) > 0).long())


def test_bernoulli_sampling_frequencies():
    torch.manual_seed(0)
    logits = torch.tensor([[-2.0, 0.0, 1.5]]).expand(20000, 3)
    a = Bernoulli(gym.spaces.MultiBinary(3))(logits).sample().float()
    torch.testing.assert_close(a.mean(0), torch.sigmoid(logits[0]), atol=0.015, rtol=0)


# ----- multi_categorical ----------------------------------------------------------------------
def test_multi_categorical_matches_torch_reference_with_unequal_sizes():
    torch.manual_seed(0)
    space = gym.spaces.MultiDiscrete([3, 5, 2])
    head = MultiCategorical(space)
    assert head.num_params == 10
    logits = torch.randn(6, 10) * 2
    dist = head(logits)
    a = dist.sample()
    assert a.shape == (6, 3) and a.dtype == torch.int64
    assert all(space.contains(row.numpy()) for row in a)
    refs = [D.Categorical(logits=part) for part in logits.split([3, 5, 2], dim=1)]
    torch.testing.assert_close(dist.log_prob(a), sum(r.log_prob(a[:, i]) for i, r in enumerate(refs)))
    torch.testing.assert_close(dist.entropy(), sum(r.entropy() for r in refs))
    mode = torch.stack([part.argmax(1) for part in logits.split([3, 5, 2], dim=1)], 1)
    assert torch.equal(dist.mode, mode)


def test_multi_categorical_sampling_frequencies_and_gradients():
    torch.manual_seed(0)
    head = MultiCategorical(gym.spaces.MultiDiscrete([2, 3]))
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.0, -1.0]], requires_grad=True)
    a = head(logits.expand(30000, 5)).sample()
    freq = torch.stack([torch.bincount(a[:, 1], minlength=3).float() / 30000])
    torch.testing.assert_close(freq[0], torch.softmax(logits[0, 2:], 0).detach(), atol=0.01, rtol=0)
    head(logits).log_prob(torch.tensor([[1, 2]])).sum().backward()
    assert (logits.grad != 0).all()


def test_multi_dim_multidiscrete_keeps_its_shape():
    head = MultiCategorical(gym.spaces.MultiDiscrete([[2, 3], [4, 2]]))
    dist = head(torch.randn(5, head.num_params))
    assert dist.sample().shape == (5, 2, 2) and dist.log_prob(dist.mode).shape == (5,)


# ----- truncated_normal -----------------------------------------------------------------------
def _truncnorm(dist):
    mean, std = dist.mean.double().numpy(), dist.std.double().numpy()
    return stats.truncnorm((-1 - mean) / std, (1 - mean) / std, loc=mean, scale=std)


def test_truncated_normal_log_prob_and_entropy_match_scipy():
    torch.manual_seed(0)
    head = TruncatedNormal(BOX)
    assert head.num_params == 6 and head.squashed and head.has_log_prob
    dist = head(torch.randn(8, 6) * 2)
    a = dist.sample()
    assert a.shape == (8, 3) and (a.abs() <= 1).all()
    ref = _truncnorm(dist)
    expected = ref.logpdf(a.double().numpy()).sum(1)
    torch.testing.assert_close(dist.log_prob(a).double(), torch.from_numpy(expected), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(dist.entropy().double(), torch.from_numpy(ref.entropy().sum(1)), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(dist.mode, dist.mean)


def test_truncated_normal_samples_follow_the_distribution():
    torch.manual_seed(0)
    params = torch.tensor([[0.9, -0.3, 1.0, 0.5]])  # tanh means 0.72, -0.29; stds e^1, e^0.5
    dist = TruncatedNormal(gym.spaces.Box(-1, 1, (2,)))(params.expand(40000, 4))
    a = dist.sample()
    ref = _truncnorm(TruncatedNormal(gym.spaces.Box(-1, 1, (2,)))(params))
    torch.testing.assert_close(a.mean(0).double(), torch.from_numpy(ref.mean()[0]), atol=0.01, rtol=0)
    torch.testing.assert_close(a.std(0).double(), torch.from_numpy(ref.std()[0]), atol=0.01, rtol=0)


def test_truncated_normal_fits_ppo_and_sac_but_not_td3():
    for algo, fits in (("ppo", True), ("a2c", True), ("sac", True), ("td3", False)):
        agent = make_agent(algo, "Pendulum-v1")
        assert ("truncated_normal" in agent.accepted("distribution")) is fits, algo


def test_ppo_with_truncated_normal_acts_within_bounds():
    agent = make_agent("ppo", "Pendulum-v1", {"n_steps": 8, "batch_size": 16}, num_envs=2,
                       distribution="truncated_normal")
    agent.build()
    agent.reset_env()
    steps, metrics = agent.iterate()
    assert steps == 16 and np.isfinite(metrics["policy_loss"])
    act = agent.act(agent.obs, deterministic=False)
    assert (act.abs() <= 2.0).all()
    agent.env.close()


# ----- ou_noise -------------------------------------------------------------------------------
def test_ou_noise_autocorrelation_and_stationary_std():
    torch.manual_seed(0)
    head = OUNoise(gym.spaces.Box(-1, 1, (1,)), sigma=0.05, theta=0.15)
    zeros = torch.zeros(2000, 1)  # 2000 independent processes (one per "env")
    for _ in range(60):  # burn in to the stationary distribution
        head(zeros).sample()
    xs = []
    for _ in range(40):
        head(zeros).sample()
        xs.append(head.state.clone())
    x = torch.stack(xs)[:, :, 0]  # [time, env]
    lag1 = ((x[1:] * x[:-1]).mean() / (x * x).mean()).item()
    assert lag1 == pytest.approx(1 - 0.15, abs=0.02)
    stationary = 0.05 / np.sqrt(0.15 * (2 - 0.15))
    assert x.std().item() == pytest.approx(stationary, rel=0.05)


def test_ou_noise_sample_is_mode_plus_state_and_resets_per_env():
    torch.manual_seed(0)
    head = OUNoise(gym.spaces.Box(-1, 1, (2,)), sigma=0.1)
    params = torch.zeros(3, 2)
    for _ in range(5):
        a = head(params).sample()
    torch.testing.assert_close(a, head.state.clamp(-1, 1))
    assert (head.state != 0).all()
    head.reset_noise(torch.tensor([False, True, False]))
    assert (head.state[1] == 0).all() and (head.state[[0, 2]] != 0).all()
    before = head.state.clone()
    head.sigma = 0.0  # no fresh noise: each row decays by (1 - theta * dt) from where it was
    head(params).sample()
    torch.testing.assert_close(head.state, before * 0.85)
    head(torch.zeros(5, 2)).sample()  # a new batch size starts a fresh state
    assert head.state.shape == (5, 2)
    head.reset_noise()
    assert head.state is None


def test_td3_and_ddpg_accept_ou_noise_and_reset_it_at_episode_ends():
    for algo in ("td3", "ddpg"):
        assert "ou_noise" in make_agent(algo, "Pendulum-v1").accepted("distribution")
    assert "ou_noise" not in make_agent("ppo", "Pendulum-v1").accepted("distribution")
    agent = make_agent("td3", "Pendulum-v1", {"buffer_size": 300, "learning_starts": 0}, num_envs=2,
                       distribution="ou_noise")
    agent.build()
    agent.reset_env()
    offpolicy.collect_transitions(agent, 5)
    noise = agent.policy.dist
    assert noise.state is not None and (noise.state != 0).all()
    offpolicy.reset_noise(agent, torch.tensor([True, False]))
    assert (noise.state[0] == 0).all() and (noise.state[1] != 0).all()
    resets = []
    noise.reset_noise = lambda done: resets.append(done.tolist())
    offpolicy.collect_transitions(agent, 200)  # Pendulum truncates after 200 steps
    assert resets == [[True, True]]
    agent.env.close()
