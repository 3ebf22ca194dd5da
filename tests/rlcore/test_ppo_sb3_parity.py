"""rlcore's PPO against Stable-Baselines3's on the same weights and the same rollout.

Benchmark suite B4 (PPO on Pendulum-v1) compares the two libraries' final returns; these
tests pin down that the algorithms agree: the networks and their initial state, the
advantages and returns computed from one rollout (time-limit bootstrap folded into the
rewards, episode ends inside the rollout), and the parameters after whole-batch updates
(clipped surrogate, value loss, advantage normalisation, gradient clipping and Adam).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
import torch

sb3 = pytest.importorskip("stable_baselines3")

from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.logger import Logger  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize  # noqa: E402

import gymnasium as gym  # noqa: E402

from rlcore import make_agent  # noqa: E402

B4 = dict(gamma=0.9, gae_lambda=0.95, lr=1e-3, ent_coef=0.0, normalize_obs=True)
N_ENVS, N_STEPS = 2, 120  # 240 steps per env in two rollouts: each env's episode is truncated once


def pair(n_epochs: int = 3, eager: bool = True, **extra):
    """An rlcore PPO agent (eager unless told) and an SB3 PPO model with the same hyperparameters
    and weights."""
    cfg = dict(B4, n_steps=N_STEPS, batch_size=N_STEPS * N_ENVS, n_epochs=n_epochs, **extra)
    agent = make_agent("ppo", "Pendulum-v1", cfg, seed=3, num_envs=N_ENVS, backend="gym")
    agent.build()
    if eager:
        agent.use_eager("parity test")
    agent.reset_env()
    venv = DummyVecEnv([lambda: gym.make("Pendulum-v1")] * N_ENVS)
    if cfg["normalize_obs"]:
        venv = VecNormalize(venv, norm_obs=True, norm_reward=False)
    sb = sb3.PPO("MlpPolicy", venv, n_steps=N_STEPS, batch_size=N_STEPS * N_ENVS, n_epochs=n_epochs,
                 gamma=cfg["gamma"], gae_lambda=cfg["gae_lambda"], learning_rate=cfg["lr"],
                 ent_coef=cfg.get("ent_coef", 0.0), clip_range_vf=cfg.get("clip_range_vf") or None,
                 policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]),
                                    log_std_init=cfg.get("log_std_init", 0.0)),
                 seed=3, device="cpu")
    sb.set_logger(Logger(folder=None, output_formats=[]))
    with torch.no_grad():
        for ours, theirs in zip(rlcore_params(agent), sb3_params(sb)):
            assert ours.shape == theirs.shape
            theirs.copy_(ours)
    return agent, sb


def rlcore_params(agent) -> list[torch.Tensor]:
    p = agent.policy
    lin = lambda seq: [m for m in seq if isinstance(m, torch.nn.Linear)]  # noqa: E731
    layers = [*lin(p.encoder.net), p.actor_head, *lin(p.critic_encoder.net), p.critic_head]
    return [t for m in layers for t in (m.weight, m.bias)] + [p.dist.log_std]


def sb3_params(sb) -> list[torch.Tensor]:
    p = sb.policy
    lin = lambda seq: [m for m in seq if isinstance(m, torch.nn.Linear)]  # noqa: E731
    layers = [*lin(p.mlp_extractor.policy_net), p.action_net, *lin(p.mlp_extractor.value_net), p.value_net]
    return [t for m in layers for t in (m.weight, m.bias)] + [p.log_std]


def fill_sb3_buffer(agent, sb) -> None:
    """Copy rlcore's stored rollout into SB3's buffer and let SB3 compute GAE from it.

    rlcore's ``dones[t]`` (an episode ended after step t) is SB3's ``episode_starts[t + 1]``.
    """
    st, buf = agent.storage, sb.rollout_buffer
    buf.reset()
    for t in range(st.size):
        start = np.zeros(N_ENVS, dtype=bool) if t == 0 else st.dones[t - 1].numpy() > 0
        buf.add(st.obs[t].numpy(), st.actions[t].numpy(), st.rewards[t].numpy(), start,
                st.values[t].clone(), st.log_probs[t].clone())
    with torch.no_grad():
        last = agent.policy.value(agent.obs)
    buf.compute_returns_and_advantage(last_values=last, dones=st.dones[-1].numpy() > 0)


def test_same_architecture_and_initial_distribution():
    agent, sb = pair()
    ours = sorted(tuple(p.shape) for p in agent.policy.parameters())
    theirs = sorted(tuple(p.shape) for p in sb.policy.parameters())
    assert ours == theirs  # nothing more on either side (e.g. a shared trunk or a second log-std)
    obs = torch.randn(16, 3)
    with torch.no_grad():
        d_ours, v_ours = agent.policy(obs)
        d_theirs = sb.policy.get_distribution(obs).distribution
        v_theirs = sb.policy.predict_values(obs).squeeze(-1)
        a = d_ours.sample()
        torch.testing.assert_close(d_ours.mean, d_theirs.mean)
        torch.testing.assert_close(d_ours.std, d_theirs.stddev)
        torch.testing.assert_close(d_ours.log_prob(a), d_theirs.log_prob(a).sum(-1))
        torch.testing.assert_close(v_ours, v_theirs)


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "fused"])
@pytest.mark.parametrize("extra", [{}, {"clip_range_vf": 0.2, "log_std_init": -0.5}])
def test_advantages_and_update_match_sb3(extra, eager):
    agent, sb = pair(eager=eager, **extra)
    if not eager and not agent.update_path.startswith("fused"):
        pytest.skip(f"the fused learner is not available here: {agent.update_path}")
    for _ in range(2):  # the second rollout holds the truncation of every env at step 200
        agent.collector.collect(N_STEPS)
        fill_sb3_buffer(agent, sb)
        st, buf = agent.storage, sb.rollout_buffer
        for ours, theirs in ((st.advantages, buf.advantages), (st.returns, buf.returns)):
            torch.testing.assert_close(ours, torch.as_tensor(theirs), atol=1e-4, rtol=1e-5)
        metrics = agent.learner.update()
        sb.train()
        assert math.isfinite(metrics["policy_loss"])
        for ours, theirs in zip(rlcore_params(agent), sb3_params(sb)):
            torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)
    assert bool((agent.storage.dones > 0).any()), "the rollout was meant to hold an episode end"


class _Continue(BaseCallback):
    def _on_step(self) -> bool:
        return True


def test_collection_matches_sb3_draw_for_draw():
    """Same weights, same env seeds, same torch random stream: both collect the same rollout
    (clipped actions sent to the env, unclipped ones stored, the time-limit truncation at step
    200 bootstrapped with gamma * V(final obs)) and compute the same advantages."""
    agent, sb = pair(normalize_obs=False)
    sb.env.seed(3)
    obs = sb.env.reset()
    torch.testing.assert_close(agent.obs, torch.as_tensor(obs))  # env seeding agrees as well
    callback = _Continue()
    callback.init_callback(sb)
    sb.ep_info_buffer, sb.ep_success_buffer = deque(maxlen=100), deque(maxlen=100)
    sb._last_obs, sb._last_episode_starts = obs, np.ones(N_ENVS, dtype=bool)
    for rollout in range(2):
        torch.manual_seed(7 + rollout)
        agent.collector.collect(N_STEPS)
        torch.manual_seed(7 + rollout)
        sb.collect_rollouts(sb.env, callback, sb.rollout_buffer, N_STEPS)
        st, buf = agent.storage, sb.rollout_buffer
        pairs = ((st.obs, buf.observations), (st.actions, buf.actions), (st.log_probs, buf.log_probs),
                 (st.values, buf.values), (st.rewards, buf.rewards), (st.advantages, buf.advantages))
        for ours, theirs in pairs:
            theirs = torch.as_tensor(theirs).reshape(ours.shape)
            torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-5)
    assert (agent.storage.actions.abs() > 2.0).any(), "some sampled actions were meant to exceed the bounds"
    assert agent.storage.dones[200 - N_STEPS - 1].all(), "step 200 was meant to truncate every episode"
