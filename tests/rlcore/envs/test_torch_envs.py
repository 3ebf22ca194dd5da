"""The torch-native classic-control envs reproduce Gymnasium 1.4 transition by transition."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from rlcore.envs.base import Step, VecEnv
from rlcore.envs.torch_native import TORCH_ENV_IDS, make_torch_env
from rlcore.fast.native import KINDS
from rlcore.envs.torch_native.single import TorchSingleEnv
from rlcore.errors import RLCoreError

ATOL = 1e-5
ONE_STEP_SAMPLES = 3000
PI = math.pi
# Physical states to test from, as (low, high) per component; wider than the reset boxes so
# terminations, clipping and angle wrapping are all exercised.
STATE_BOXES = {
    "CartPole-v1": ([-2.6, -3.0, -0.25, -3.5], [2.6, 3.0, 0.25, 3.5]),
    "Pendulum-v1": ([-3 * PI, -8.0], [3 * PI, 8.0]),
    "MountainCar-v0": ([-1.2, -0.07], [0.6, 0.07]),
    "MountainCarContinuous-v0": ([-1.2, -0.07], [0.6, 0.07]),
    "Acrobot-v1": ([-PI, -PI, -4 * PI, -9 * PI], [PI, PI, 4 * PI, 9 * PI]),
}
TIME_LIMITS = {"CartPole-v1": 500, "Pendulum-v1": 200, "MountainCar-v0": 200,
               "MountainCarContinuous-v0": 999, "Acrobot-v1": 500}
# (sub-envs, steps) for the on-line comparison: enough for every env to hit its time limit
# or terminate several times.
TRAJECTORIES = {"CartPole-v1": (16, 300), "Pendulum-v1": (6, 450), "MountainCar-v0": (6, 450),
                "MountainCarContinuous-v0": (3, 1100), "Acrobot-v1": (6, 550)}


def gym_state_dtype(env_id: str):
    """Gymnasium keeps MountainCarContinuous's state in float32 between steps."""
    return np.float32 if env_id == "MountainCarContinuous-v0" else np.float64


def random_states(env_id: str, rng: np.random.Generator, n: int) -> np.ndarray:
    low, high = STATE_BOXES[env_id]
    states = rng.uniform(low, high, size=(n, len(low)))
    if env_id.startswith("MountainCar"):
        states[: n // 20, 0] = -1.2  # resting against the left wall
        states[n // 20: n // 10, 0] = rng.uniform(0.4, 0.6, n // 20)  # near the goal
    return states.astype(gym_state_dtype(env_id))


def random_actions(space: gym.Space, rng: np.random.Generator, n: int) -> np.ndarray:
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, int(space.n), size=n)
    # 1.5x the bounds so clipping is exercised as well.
    return rng.uniform(1.5 * space.low, 1.5 * space.high, size=(n, *space.shape)).astype(np.float32)


def make_gym(env_id: str) -> gym.Env:
    env = gym.make(env_id, disable_env_checker=True)
    env.reset(seed=0)
    return env


def gym_step(env: gym.Env, env_id: str, state: np.ndarray, elapsed: int, action):
    """One Gymnasium transition from ``state`` with the TimeLimit counter at ``elapsed``."""
    env.unwrapped.state = np.array(state, dtype=gym_state_dtype(env_id))
    env.unwrapped.steps_beyond_terminated = None  # CartPole's "stepped after the end" flag
    env._elapsed_steps = int(elapsed)  # the outermost wrapper is TimeLimit
    obs, reward, terminated, truncated, _ = env.step(action)
    return obs, float(reward), bool(terminated), bool(truncated), np.array(env.unwrapped.state)


def torch_env(env_id: str, num_envs: int, path: str = "compiled", device: str = "cpu", seed=0):
    """``path``: "compiled" (the C step where the task has one, tensor code otherwise),
    "indexed" (tensor code, CPU autoreset) or "masked" (tensor code, CUDA-style autoreset)."""
    env = make_torch_env(env_id, num_envs=num_envs, seed=seed, device=device)
    env._sync_free = path == "masked"  # choose the autoreset implementation under test
    if path != "compiled" and getattr(env, "native", None) is not None:
        env.native.lib = None
    return env


def check_one_step(env_id: str, path: str, device: str, n: int) -> None:
    rng = np.random.default_rng(sum(map(ord, env_id)))
    env = torch_env(env_id, n, path, device)
    limit = env.max_episode_steps
    states = random_states(env_id, rng, n)
    elapsed = rng.integers(0, limit - 1, size=n)
    elapsed[rng.random(n) < 0.2] = limit - 1  # these transitions hit the time limit
    actions = random_actions(env.single_action_space, rng, n)
    env.set_state(torch.as_tensor(states), torch.as_tensor(elapsed))
    out = env.step(torch.as_tensor(actions, device=device))

    ref = make_gym(env_id)
    expected = [gym_step(ref, env_id, states[i], elapsed[i], actions[i]) for i in range(n)]
    exp_obs = np.stack([e[0] for e in expected])
    exp_rew = np.array([e[1] for e in expected])
    exp_term = np.array([e[2] for e in expected])
    exp_trunc = np.array([e[3] for e in expected])
    exp_state = np.stack([e[4] for e in expected]).astype(np.float64)
    np.testing.assert_allclose(out.next_obs.cpu().numpy(), exp_obs, rtol=0, atol=ATOL)
    np.testing.assert_allclose(out.reward.cpu().numpy(), exp_rew, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(out.terminated.cpu().numpy(), exp_term)
    np.testing.assert_array_equal(out.truncated.cpu().numpy(), exp_trunc)
    assert exp_trunc.sum() > n // 10
    if env_id != "Pendulum-v1":
        assert 0 < exp_term.sum() < n

    done = torch.as_tensor(exp_term | exp_trunc, device=device)
    kept = ~done.cpu().numpy()  # rows that did not restart hold the true next state
    np.testing.assert_allclose(env.get_state().cpu().numpy()[kept], exp_state[kept], rtol=0, atol=1e-9)
    assert torch.equal(out.obs[~done], out.next_obs[~done])
    assert torch.equal(env.get_elapsed_steps()[~done].cpu(), torch.as_tensor(elapsed + 1)[~done.cpu()])
    assert bool((env.get_elapsed_steps()[done] == 0).all())
    assert torch.equal(out.obs[done], env._observe(env._state)[done])
    assert in_reset_box(env_id, env.get_state()[done].cpu())


def in_reset_box(env_id: str, states: torch.Tensor) -> bool:
    low = torch.tensor(make_torch_env(env_id).reset_low, dtype=torch.float64)
    high = torch.tensor(make_torch_env(env_id).reset_high, dtype=torch.float64)
    s = states.to(torch.float64)
    return bool(((s >= low - 1e-7) & (s <= high + 1e-7)).all())


@pytest.mark.parametrize("path", ["compiled", "indexed", "masked"])
@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_one_step_matches_gymnasium_from_random_states(env_id, path):
    check_one_step(env_id, path, "cpu", ONE_STEP_SAMPLES)


@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_trajectories_with_autoreset_match_gymnasium(env_id):
    """Sixteen envs stepped on-line; Gymnasium copies follow (TimeLimit counts by itself)."""
    (n, steps), rng = TRAJECTORIES[env_id], np.random.default_rng(7)
    env = torch_env(env_id, n)
    env.reset(seed=3)
    refs = [make_gym(env_id) for _ in range(n)]
    returns, lengths, finished = np.zeros(n), np.zeros(n, dtype=int), []
    for _ in range(steps):
        # Re-synchronise every step so the chaotic Acrobot cannot drift apart at 1e-16.
        states = env.get_state().numpy().astype(gym_state_dtype(env_id))
        actions = random_actions(env.single_action_space, rng, n)
        out = env.step(torch.as_tensor(actions))
        expected = []
        for i, ref in enumerate(refs):
            ref.unwrapped.state = states[i]
            expected.append(ref.step(actions[i])[:4])
        obs, reward, term, trunc = (np.array(x) for x in zip(*expected))
        np.testing.assert_allclose(out.next_obs.numpy(), obs, rtol=0, atol=ATOL)
        np.testing.assert_allclose(out.reward.numpy(), reward, rtol=0, atol=ATOL)
        np.testing.assert_array_equal(out.terminated.numpy(), term)
        np.testing.assert_array_equal(out.truncated.numpy(), trunc)
        returns += out.reward.numpy()
        lengths += 1
        for i in np.flatnonzero(term | trunc):
            finished.append((returns[i], lengths[i]))
            returns[i], lengths[i] = 0.0, 0
            refs[i].reset()
    episodes = env.pop_episodes()
    assert len(episodes) == len(finished) >= n
    # Episodes are reported in the order they finished (by step, then by sub-env index).
    np.testing.assert_allclose(np.array(episodes), np.array(finished), rtol=1e-6, atol=1e-4)
    assert env.pop_episodes() == []
    if env_id != "CartPole-v1":  # random CartPole policies never last 500 steps
        assert any(length == TIME_LIMITS[env_id] for _, length in episodes)


@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_spaces_and_time_limit_equal_gymnasium(env_id):
    env, ref = make_torch_env(env_id, num_envs=3), gym.make(env_id)
    assert env.single_observation_space == ref.observation_space
    assert env.single_action_space == ref.action_space
    assert env.max_episode_steps == ref.spec.max_episode_steps == TIME_LIMITS[env_id]


@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_reset_distribution(env_id):
    env = make_torch_env(env_id, num_envs=20000, seed=1)
    obs = env.reset()
    state = env.get_state()
    low = torch.tensor(env.reset_low, dtype=torch.float64)
    high = torch.tensor(env.reset_high, dtype=torch.float64)
    assert in_reset_box(env_id, state)
    spread = high > low
    unit = (state.to(torch.float64) - low)[:, spread] / (high - low)[spread]
    assert bool(((unit.mean(0) - 0.5).abs() < 0.01).all())  # uniform: mean 1/2, var 1/12
    assert bool(((unit.var(0) - 1 / 12).abs() < 0.005).all())
    assert bool((state[:, ~spread] == low[~spread]).all())
    assert obs.dtype == torch.float32 and obs.shape == (20000, *env.single_observation_space.shape)
    if env_id == "Acrobot-v1":  # Gymnasium rounds the initial state to float32
        assert torch.equal(state, state.float().double())


@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_same_seed_same_trajectory_different_seed_differs(env_id):
    def rollout(seed, **kw):
        env = make_torch_env(env_id, num_envs=64, **kw)
        first = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        steps = [env.step(torch.as_tensor(random_actions(env.single_action_space, rng, 64)))
                 for _ in range(120)]
        return first, steps, env.pop_episodes()

    a, b, c = rollout(5), rollout(5), rollout(6)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    for sa, sb in zip(a[1], b[1]):
        for field in ("obs", "reward", "terminated", "truncated", "next_obs"):
            assert torch.equal(getattr(sa, field), getattr(sb, field))
    assert a[2] == b[2]
    from_constructor = make_torch_env(env_id, num_envs=64, seed=5).reset()
    assert torch.equal(from_constructor, a[0])


def test_reseeding_the_same_env_repeats_its_resets():
    env = make_torch_env("CartPole-v1", num_envs=8)
    first = env.reset(seed=11)
    env.step(torch.ones(8, dtype=torch.int64))
    assert not torch.equal(env.reset(), first)
    assert torch.equal(env.reset(seed=11), first)


@pytest.mark.parametrize("path", ["compiled", "indexed", "masked"])
def test_pop_episodes_reports_every_finished_episode(path):
    n = 64
    env = torch_env("CartPole-v1", n, path)
    env.reset(seed=0)
    returns, lengths, expected = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.int64), []
    rng = np.random.default_rng(1)
    for _ in range(300):  # longer than the ring buffer, so it flushes on its own
        out = env.step(torch.as_tensor(rng.integers(0, 2, n)))
        returns += out.reward
        lengths += 1
        done = out.terminated | out.truncated
        expected += list(zip(returns[done].tolist(), lengths[done].tolist()))
        returns[done], lengths[done] = 0.0, 0
    episodes = env.pop_episodes()
    assert episodes == expected and len(episodes) > 300
    assert all(ret == length for ret, length in episodes)  # CartPole pays 1 per step


@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_vecenv_protocol_and_step_types(env_id):
    env = make_torch_env(env_id, num_envs=5, seed=0)
    assert isinstance(env, VecEnv)
    assert (env.env_id, env.num_envs, env.device) == (env_id, 5, torch.device("cpu"))
    obs = env.reset()
    obs_shape = env.single_observation_space.shape
    assert obs.shape == (5, *obs_shape) and obs.dtype == torch.float32
    action = torch.as_tensor(np.stack([env.single_action_space.sample() for _ in range(5)]))
    before = env.get_state()
    out = env.step(action)
    assert isinstance(out, Step)
    assert out.obs.shape == out.next_obs.shape == (5, *obs_shape)
    assert out.obs.dtype == out.next_obs.dtype == out.reward.dtype == torch.float32
    assert out.reward.shape == out.terminated.shape == out.truncated.shape == (5,)
    assert out.terminated.dtype == out.truncated.dtype == torch.bool
    state = env.get_state()
    assert not torch.equal(state, before)
    out.obs.zero_(), out.next_obs.zero_()  # returned tensors never alias the env's state
    assert torch.equal(env.get_state(), state)


def test_user_errors_are_one_sentence():
    with pytest.raises(RLCoreError, match=r"Unknown torch-native env id 'CartPole-v0'.*CartPole-v1"):
        make_torch_env("CartPole-v0")
    with pytest.raises(RLCoreError, match="num_envs"):
        make_torch_env("Pendulum-v1", num_envs=0)
    env = make_torch_env("CartPole-v1", num_envs=4)
    with pytest.raises(RLCoreError, match="before reset"):
        env.step(torch.zeros(4, dtype=torch.int64))
    env.reset(seed=0)
    with pytest.raises(RLCoreError, match=r"shape \[4\]; got \[3\]"):
        env.step(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(RLCoreError, match="integer"):
        env.step(torch.zeros(4))
    with pytest.raises(RLCoreError, match=r"shape \[4, 4\]"):
        env.set_state(torch.zeros(4, 2))
    pendulum = make_torch_env("Pendulum-v1", num_envs=2, seed=0)
    pendulum.reset()
    with pytest.raises(RLCoreError, match=r"shape \[2, 1\]; got \[2\]"):
        pendulum.step(torch.zeros(2))


@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_single_view_passes_gymnasium_check_env(env_id):
    env = TorchSingleEnv(env_id)
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    ref = make_gym(env_id)
    rng = np.random.default_rng(2)
    for _ in range(20):  # the numpy view agrees with Gymnasium too
        state, action = env.get_state(), random_actions(env.action_space, rng, 1)[0]
        if isinstance(env.action_space, gym.spaces.Discrete):
            action = int(action)
        obs, reward, term, trunc, info = env.step(action)
        exp = gym_step(ref, env_id, state, 0, action)
        np.testing.assert_allclose(obs, exp[0], rtol=0, atol=ATOL)
        assert abs(reward - exp[1]) <= ATOL and (term, trunc) == exp[2:4] and info == {}
        if term:
            env.reset()
    env.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("env_id", TORCH_ENV_IDS)
def test_cuda_matches_gymnasium_and_is_reproducible(env_id):
    check_one_step(env_id, "masked", "cuda", 1000)
    check_one_step(env_id, "indexed", "cuda", 1000)
    a = make_torch_env(env_id, num_envs=256, seed=9, device="cuda")
    b = make_torch_env(env_id, num_envs=256, seed=9, device="cuda")
    assert torch.equal(a.reset(), b.reset())
    act = torch.as_tensor(np.stack([a.single_action_space.sample() for _ in range(256)]), device="cuda")
    for _ in range(50):
        sa, sb = a.step(act), b.step(act)
        assert torch.equal(sa.obs, sb.obs) and torch.equal(sa.next_obs, sb.next_obs)
    assert a.pop_episodes() == b.pop_episodes()


@pytest.mark.parametrize("env_id", sorted(KINDS))
def test_compiled_step_follows_the_tensor_step(env_id):
    """The C step and the tensor step consume the same reset draws and agree step by step."""
    n, rng = 32, np.random.default_rng(4)
    fast, slow = torch_env(env_id, n, "compiled"), torch_env(env_id, n, "indexed")
    if fast.native.lib is None:
        pytest.skip("the compiled kernels are unavailable here")
    torch.testing.assert_close(fast.reset(seed=9), slow.reset(seed=9), rtol=0, atol=0)
    finished = 0
    for _ in range(TIME_LIMITS[env_id] + 60):
        actions = torch.as_tensor(random_actions(fast.single_action_space, rng, n))
        a, b = fast.step(actions), slow.step(actions)
        np.testing.assert_array_equal(a.terminated.numpy(), b.terminated.numpy())
        np.testing.assert_array_equal(a.truncated.numpy(), b.truncated.numpy())
        for field in ("obs", "next_obs", "reward"):
            torch.testing.assert_close(getattr(a, field), getattr(b, field), rtol=0, atol=1e-6)
        finished += int((a.terminated | a.truncated).sum())
    torch.testing.assert_close(fast.get_state(), slow.get_state(), rtol=0, atol=1e-9)
    assert torch.equal(fast.get_elapsed_steps(), slow.get_elapsed_steps())
    ea, eb = fast.pop_episodes(), slow.pop_episodes()
    assert len(ea) == len(eb) == finished >= n
    np.testing.assert_allclose(np.array(ea), np.array(eb), rtol=0, atol=1e-6)
