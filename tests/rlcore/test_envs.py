"""make_env: tensors, same-step autoreset, episode stats, seeding, wrappers, user envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcore import RLCoreError, make_env
from rlcore.envs import FrameStack, GymVecEnv, NormalizeObservation, NormalizeReward

torch.set_num_threads(1)

SPECS = {"CartPole-v1": ((4,), gym.spaces.Discrete), "Pendulum-v1": ((3,), gym.spaces.Box)}


def random_actions(env, g: torch.Generator) -> torch.Tensor:
    space = env.single_action_space
    if isinstance(space, gym.spaces.Discrete):
        return torch.randint(0, int(space.n), (env.num_envs,), generator=g)
    low, high = torch.as_tensor(space.low), torch.as_tensor(space.high)
    return low + (high - low) * torch.rand(env.num_envs, *space.shape, generator=g)


@pytest.mark.parametrize("backend", ["gym", "torch"])
@pytest.mark.parametrize("env_id", list(SPECS))
def test_make_env_speaks_torch_with_the_right_shapes(env_id, backend):
    obs_shape, space_type = SPECS[env_id]
    env = make_env(env_id, num_envs=3, seed=0, backend=backend)
    assert env.num_envs == 3 and env.env_id == env_id and env.device == torch.device("cpu")
    assert env.single_observation_space.shape == obs_shape
    assert isinstance(env.single_action_space, space_type)
    obs = env.reset(seed=1)
    assert isinstance(obs, torch.Tensor) and obs.shape == (3, *obs_shape) and obs.dtype == torch.float32
    s = env.step(random_actions(env, torch.Generator().manual_seed(0)))
    assert s.obs.shape == s.next_obs.shape == (3, *obs_shape)
    assert s.obs.dtype == s.next_obs.dtype == torch.float32
    assert s.reward.shape == (3,) and s.reward.dtype == torch.float32
    assert s.terminated.shape == s.truncated.shape == (3,)
    assert s.terminated.dtype == s.truncated.dtype == torch.bool
    env.close()


def test_same_step_autoreset_on_termination():
    env = make_env("CartPole-v1", num_envs=4, seed=0)
    obs = env.reset()
    dones = 0
    for _ in range(40):
        s = env.step(torch.zeros(4, dtype=torch.int64))  # always push left: short episodes
        done = s.terminated | s.truncated
        for i in range(4):
            if done[i]:
                assert not torch.equal(s.next_obs[i], s.obs[i])
                x, theta = s.next_obs[i, 0].abs().item(), s.next_obs[i, 2].abs().item()
                assert x > 2.4 or theta > 12 * 2 * np.pi / 360, "next_obs must hold the terminal obs"
                assert (s.obs[i].abs() <= 0.05).all(), "obs must hold a fresh reset obs"
            else:
                assert torch.equal(s.next_obs[i], s.obs[i])
        dones += int(done.sum())
        obs = s.obs
    assert dones >= 4 and obs.shape == (4, 4)


def test_same_step_autoreset_on_truncation():
    env = make_env("Pendulum-v1", num_envs=2, seed=0)
    env.reset()
    zero = torch.zeros(2, 1)
    for step in range(1, 201):
        s = env.step(zero)
        assert not s.terminated.any()
        assert bool(s.truncated.all()) == (step == 200)
    assert not torch.equal(s.next_obs, s.obs)
    episodes = env.pop_episodes()
    assert len(episodes) == 2 and all(n == 200 for _, n in episodes)


def test_pop_episodes_matches_a_manual_count():
    env = make_env("CartPole-v1", num_envs=3, seed=4)
    env.reset()
    g = torch.Generator().manual_seed(0)
    ret, length, expected = np.zeros(3), np.zeros(3, dtype=int), []
    for _ in range(120):
        s = env.step(random_actions(env, g))
        ret += s.reward.numpy()
        length += 1
        for i in np.flatnonzero((s.terminated | s.truncated).numpy()):
            expected.append((float(ret[i]), int(length[i])))
            ret[i], length[i] = 0.0, 0
    episodes = env.pop_episodes()
    assert len(expected) >= 5
    assert [(r, n) for r, n in episodes] == expected
    assert all(r == n for r, n in episodes)  # CartPole pays 1 per step
    assert env.pop_episodes() == []


def pooled_stats(data: torch.Tensor, prior_count: float = 1e-4):
    """Mean and variance of ``data`` pooled with the running statistics' prior (mean 0, var 1)."""
    data = data.double()
    n, m, v = data.shape[0], data.mean(0), data.var(0, unbiased=False)
    total = n + prior_count
    mean = n * m / total
    var = (prior_count * 1.0 + n * v + m.pow(2) * prior_count * n / total) / total
    return mean, var


def _rollout(env, steps: int = 30) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    out = [env.reset()]
    for _ in range(steps):
        out.append(env.step(random_actions(env, g)).obs)
    return torch.stack(out)


@pytest.mark.parametrize("env_id", list(SPECS))
def test_seeding_is_reproducible(env_id):
    a = _rollout(make_env(env_id, num_envs=2, seed=7))
    b = _rollout(make_env(env_id, num_envs=2, seed=7))
    c = _rollout(make_env(env_id, num_envs=2, seed=8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # an explicit reset seed wins, and sub-env i is seeded with seed + i
    pair = make_env(env_id, num_envs=2).reset(seed=5)
    single = make_env(env_id, num_envs=1).reset(seed=6)
    assert torch.equal(pair[1], single[0])


def test_normalize_obs_standardises_with_running_statistics():
    env = make_env("CartPole-v1", num_envs=2, seed=0, normalize_obs=True)
    raw = make_env("CartPole-v1", num_envs=2, seed=0)
    assert env.find(NormalizeObservation) is env
    assert env.single_observation_space.shape == (4,) and env.single_observation_space.high[0] == 10.0
    fed = [raw.reset()]
    obs = env.reset()
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        action = random_actions(env, g)
        s, r = env.step(action), raw.step(action)
        fed.append(r.next_obs)
        mean, var = pooled_stats(torch.cat(fed))
        expected = ((r.obs.double() - mean) / torch.sqrt(var + 1e-8)).clamp(-10, 10).float()
        torch.testing.assert_close(s.obs, expected, rtol=1e-5, atol=1e-5)
        assert s.obs.dtype == torch.float32 and s.obs.shape == (2, 4)
        torch.testing.assert_close(s.reward, r.reward)
    stats = env.rms.state_dict()
    frozen = {k: v.clone() for k, v in stats.items()}
    env.training = False
    env.step(random_actions(env, g))
    assert all(torch.equal(env.rms.state_dict()[k], v) for k, v in frozen.items())
    assert obs.shape == (2, 4)


def test_normalize_reward_scales_by_the_std_of_discounted_returns():
    gamma = 0.9
    env = make_env("Pendulum-v1", num_envs=2, seed=0, normalize_reward=True, gamma=gamma)
    raw = make_env("Pendulum-v1", num_envs=2, seed=0)
    assert env.find(NormalizeReward) is env
    env.reset()
    raw.reset()
    running, fed = torch.zeros(2, dtype=torch.float64), []
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        action = random_actions(env, g)
        s, r = env.step(action), raw.step(action)
        running = running * gamma + r.reward
        fed.append(running.clone())
        _, var = pooled_stats(torch.cat(fed))
        expected = (r.reward / torch.sqrt(var + 1e-8)).clamp(-10, 10).float()
        torch.testing.assert_close(s.reward, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(s.obs, r.obs)
    assert s.reward.dtype == torch.float32


def test_frame_stack_shapes_and_shifting():
    k = 3
    env = make_env("CartPole-v1", num_envs=2, seed=0, frame_stack=k)
    raw = make_env("CartPole-v1", num_envs=2, seed=0)
    assert isinstance(env, FrameStack) and env.single_observation_space.shape == (k, 4)
    stack, first = env.reset(), raw.reset()
    assert stack.shape == (2, k, 4)
    assert torch.equal(stack, first[:, None].expand(2, k, 4))
    saw_done = False
    for _ in range(40):
        action = torch.zeros(2, dtype=torch.int64)
        s, r = env.step(action), raw.step(action)
        assert s.obs.shape == s.next_obs.shape == (2, k, 4)
        torch.testing.assert_close(s.next_obs[:, :-1], stack[:, 1:])
        torch.testing.assert_close(s.next_obs[:, -1], r.next_obs)
        for i in range(2):
            if r.terminated[i] or r.truncated[i]:
                saw_done = True
                assert torch.equal(s.obs[i], r.obs[i][None].expand(k, 4))
            else:
                assert torch.equal(s.obs[i], s.next_obs[i])
        stack = s.obs
    assert saw_done


class CountingEnv(gym.Env):
    """Discrete observations 2..6 (start=2); three steps per episode, reward 1 each."""

    def __init__(self):
        self.observation_space = gym.spaces.Discrete(5, start=2)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = int(self.np_random.integers(0, 2))
        return 2 + self.t, {}

    def step(self, action):
        self.t += 1
        return 2 + self.t, 1.0, self.t >= 3, False, {}


USER_ENV_ID = "RlcoreTestCounting-v0"
if USER_ENV_ID not in gym.registry:
    gym.register(USER_ENV_ID, entry_point=CountingEnv)


def test_user_registered_env_with_discrete_obs_becomes_one_hot():
    env = make_env(USER_ENV_ID, num_envs=3, seed=0)
    assert env.single_observation_space.shape == (5,)
    assert env.single_observation_space.dtype == np.float32
    obs = env.reset()
    assert obs.shape == (3, 5) and obs.dtype == torch.float32
    assert torch.equal(obs.sum(1), torch.ones(3)) and set(obs.unique().tolist()) <= {0.0, 1.0}
    states = obs.argmax(1)  # state - start
    for _ in range(6):
        s = env.step(torch.zeros(3, dtype=torch.int64))
        assert torch.equal(s.next_obs.argmax(1), states + 1)
        states = s.obs.argmax(1)
    episodes = env.pop_episodes()
    assert episodes and all(r == float(n) and n in (2, 3) for r, n in episodes)


def test_bad_env_ids_and_options_are_refused_with_one_sentence():
    with pytest.raises(RLCoreError, match="CartPole-v9.*did you mean 'CartPole-v1'"):
        make_env("CartPole-v9")
    with pytest.raises(RLCoreError, match="no_such_module_xyz"):
        make_env("no_such_module_xyz:Thing-v0")
    with pytest.raises(RLCoreError, match="backend 'jax'"):
        make_env("CartPole-v1", backend="jax")
    with pytest.raises(RLCoreError, match="num_envs"):
        make_env("CartPole-v1", num_envs=0)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_lean_sync_stepping_equals_gymnasiums_vector_env(env_id):
    """The lean loop over sub-envs returns what SyncVectorEnv returns, resets included."""
    lean, ref = GymVecEnv(env_id, 3, seed=4), GymVecEnv(env_id, 3, seed=4)
    ref._lean = False
    assert lean._lean
    torch.testing.assert_close(lean.reset(), ref.reset())
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(450):
        if env_id == "CartPole-v1":
            action = torch.as_tensor(rng.integers(0, 2, 3))
        else:
            action = torch.as_tensor(rng.uniform(-2, 2, (3, 1)), dtype=torch.float32)
        a, b = lean.step(action), ref.step(action)
        for field in ("obs", "reward", "terminated", "truncated", "next_obs"):
            assert torch.equal(getattr(a, field), getattr(b, field)), field
        ends += int((a.terminated | a.truncated).sum())
    assert ends >= 3 and lean.pop_episodes() == ref.pop_episodes()
