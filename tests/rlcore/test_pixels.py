"""Pixel observations, convolutional encoders, random_shift and the DrQ-v2 agent's wiring."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlcore import make_agent, make_env, registry
from rlcore.augment.shift import RandomShift, shift_images
from rlcore.envs.pixels import PIXEL_ENV_IDS, PixelObservation, Renderer
from rlcore.errors import RLCoreError

torch.set_num_threads(1)


def pendulum_obs(theta: float) -> torch.Tensor:
    return torch.tensor([[np.cos(theta), np.sin(theta), 0.0]], dtype=torch.float32)


# ----- rendering ------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", PIXEL_ENV_IDS)
@pytest.mark.parametrize("channels", [1, 3])
def test_pixel_env_observations_are_stacked_uint8_images(env_id, channels):
    env = make_env(env_id, num_envs=2, seed=0, pixels=dict(size=24, frames=3, channels=channels))
    obs = env.reset(seed=0)
    assert env.single_observation_space == gym.spaces.Box(0, 255, (3 * channels, 24, 24), dtype=np.uint8)
    assert obs.shape == (2, 3 * channels, 24, 24) and obs.dtype == torch.uint8
    action = torch.as_tensor(np.stack([env.single_action_space.sample() for _ in range(2)]))
    s = env.step(action)
    assert s.obs.shape == obs.shape and s.obs.dtype == torch.uint8
    assert env.single_observation_space.contains(s.obs[0].numpy())
    assert (obs > 0).any() and (obs < 255).any(), "the scene must draw something on the background"
    env.close()


def test_image_follows_the_pendulum_angle_and_is_deterministic():
    render = Renderer("Pendulum-v1", size=32)
    up, right = render(pendulum_obs(0.0)), render(pendulum_obs(-np.pi / 2))
    assert not torch.equal(up, right)
    assert torch.equal(up, render(pendulum_obs(0.0)))
    # upright: the rod darkens the upper half; pointing right: the right half (angle -pi/2)
    dark = lambda img: 255 - img[0, 0].float()  # noqa: E731
    assert dark(up)[:16].sum() > 10 * dark(up)[16:].sum()
    assert dark(right)[:, 16:].sum() > 10 * dark(right)[:, :16].sum()
    # a batch renders each row as it would alone
    both = render(torch.cat([pendulum_obs(0.0), pendulum_obs(-np.pi / 2)]))
    assert torch.equal(both[:1], up) and torch.equal(both[1:], right)


def test_gym_and_torch_backends_draw_identical_images_for_identical_states():
    opts = dict(num_envs=2, pixels=dict(size=32, frames=2))
    gym_env, torch_env = make_env("Pendulum-v1", backend="gym", **opts), make_env("Pendulum-v1", backend="torch", **opts)
    g = gym_env.reset(seed=3)
    torch_env.reset(seed=3)
    states = [e.unwrapped.state for e in gym_env.env._env.envs]
    torch_env.env.set_state(torch.as_tensor(np.array(states), dtype=torch.float64))
    # after one identical step both stacks hold the images of identical observations
    action = torch.tensor([[0.5], [-1.0]])
    sg, st = gym_env.step(action), torch_env.step(action)
    assert torch.equal(sg.obs[:, 1:], st.obs[:, 1:])
    assert not torch.equal(g[:, 1:], sg.obs[:, 1:])
    gym_env.close()
    torch_env.close()


def test_frames_are_stacked_oldest_first_and_restart_at_episode_ends():
    env = make_env("Pendulum-v1", num_envs=1, backend="torch", pixels=dict(size=16, frames=3))
    render = env.renderer
    obs = env.reset(seed=0)
    first = render(env.env._observe(env.env._state))
    assert torch.equal(obs, first.repeat(1, 3, 1, 1))
    frames = [first, first, first]
    for _ in range(4):
        s = env.step(torch.tensor([[2.0]]))
        frames.append(render(env.env._observe(env.env._state)))
        assert torch.equal(s.obs, torch.cat(frames[-3:], dim=1))
    env.env.set_state(env.env.get_state(), elapsed_steps=torch.tensor([199]))
    s = env.step(torch.tensor([[0.0]]))
    assert bool(s.truncated[0])
    assert torch.equal(s.next_obs[:, :2], torch.cat(frames[-2:], dim=1))  # up to the final frame
    reset_img = render(env.env._observe(env.env._state))
    assert torch.equal(s.obs, reset_img.repeat(1, 3, 1, 1))


def test_pixel_options_are_checked():
    with pytest.raises(RLCoreError, match="frame_stack=2"):
        make_env("Pendulum-v1", pixels=True, frame_stack=2)
    with pytest.raises(RLCoreError, match="LunarLander|pixel observations"):
        Renderer("LunarLander-v3")
    with pytest.raises(RLCoreError, match="channels"):
        make_env("Pendulum-v1", pixels=dict(channels=2))
    with pytest.raises(RLCoreError, match="size, frames, channels"):
        make_env("Pendulum-v1", pixels=dict(width=32))
    env = make_env("Pendulum-v1", pixels=True)
    assert isinstance(env, PixelObservation) and env.single_observation_space.shape == (3, 64, 64)
    assert env.make_kwargs["pixels"] is True
    env.close()


# ----- encoders -------------------------------------------------------------------------------
@pytest.mark.parametrize("key,size,out_dim", [("nature_cnn", 84, 512), ("nature_cnn", 16, 512),
                                              ("impala_cnn", 64, 256), ("drq_cnn", 84, 32 * 35 * 35),
                                              ("drq_cnn", 32, 32 * 9 * 9)])
def test_cnn_encoders_take_bytes_and_stacked_frames(key, size, out_dim):
    space = gym.spaces.Box(0, 255, (2, 3, size, size), dtype=np.uint8)  # 2 stacked RGB frames
    enc = registry.get("encoders", key)(space)
    assert enc.out_dim == out_dim
    obs = torch.randint(0, 256, (4, 2, 3, size, size), dtype=torch.uint8)
    out = enc(obs)
    assert out.shape == (4, out_dim) and out.dtype == torch.float32
    torch.testing.assert_close(enc(obs.float()), out)  # byte values in a float tensor scale alike


@pytest.mark.parametrize("key", ["nature_cnn", "impala_cnn", "drq_cnn"])
def test_cnn_encoders_refuse_non_images(key):
    cls = registry.get("encoders", key)
    for space in (gym.spaces.Box(-1, 1, (5,)), gym.spaces.Box(-1, 1, (4, 4)), gym.spaces.Discrete(3),
                  gym.spaces.Box(0, 255, (3, 4, 4), dtype=np.uint8)):
        with pytest.raises(RLCoreError) as err:
            cls(space)
        assert key in str(err.value) and "\n" not in str(err.value)


def test_drq_cnn_centres_bytes():
    enc = registry.get("encoders", "drq_cnn")(gym.spaces.Box(0, 255, (1, 16, 16), dtype=np.uint8))
    x = enc.prepare(torch.tensor([0, 255], dtype=torch.uint8).repeat_interleave(128).view(1, 1, 16, 16))
    assert x.min() == -0.5 and x.max() == 0.5


# ----- random_shift ---------------------------------------------------------------------------
def test_shift_is_an_integer_translation_of_the_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 10, 12, generator=g) * 255
    torch.testing.assert_close(shift_images(x, torch.full((3, 2), 4), 4), x, atol=1e-3, rtol=0)
    shifts = torch.tensor([[0, 8], [3, 1], [8, 8]])
    y = shift_images(x, shifts, 4)
    padded = F.pad(x, (4, 4, 4, 4), mode="replicate")
    for b, (dx, dy) in enumerate(shifts.tolist()):
        torch.testing.assert_close(y[b], padded[b, :, dy:dy + 10, dx:dx + 12], atol=1e-3, rtol=0)


def test_random_shift_keeps_shape_and_range_and_shifts_per_sample():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 255.0  # one bright pixel: its new position reveals each sample's shift
    y = RandomShift(pad=2)(x)
    assert y.shape == x.shape
    assert y.min() >= -1e-3 and y.max() <= 255 + 1e-3
    peaks = y.reshape(64, -1).argmax(1)
    assert torch.allclose(y.reshape(64, -1).max(1).values, torch.full((64,), 255.0), atol=1e-2)
    assert len(set(peaks.tolist())) > 10, "shifts must be drawn per sample"
    rows, cols = peaks // 16, peaks % 16
    assert ((rows - 8).abs() <= 2).all() and ((cols - 8).abs() <= 2).all()
    assert torch.equal(RandomShift(pad=0)(x), x)


def test_random_shift_refuses_vectors_and_bad_pads():
    with pytest.raises(RLCoreError, match=r"\[B, C, H, W\]"):
        RandomShift()(torch.zeros(4, 5))
    with pytest.raises(RLCoreError, match="pad"):
        RandomShift(pad=-1)


# ----- DrQ-v2 wiring --------------------------------------------------------------------------
SMALL = dict(image_size=16, batch_size=8, hidden=(16,), feature_dim=8, learning_starts=10, buffer_size=200)


def test_drqv2_builds_on_pixels_with_shared_encoder_and_nstep_storage():
    agent = make_agent("drqv2", "Pendulum-v1", SMALL, seed=0, encoder_kwargs=dict(channels=4))
    assert agent.observation_space.shape == (3, 16, 16) and agent.observation_space.dtype == np.uint8
    agent.ensure_built()
    agent.reset_env()
    assert agent.storage.n_step == 3 and agent.storage.gamma == 0.99
    enc_before = [p.detach().clone() for p in agent.encoder.parameters()]
    for _ in range(12):
        steps, metrics = agent.iterate()
    assert set(metrics) == {"critic_loss", "actor_loss", "q", "std"}
    assert agent.storage.obs.dtype == torch.uint8
    assert any(not torch.equal(a, b) for a, b in zip(enc_before, agent.encoder.parameters()))
    # the encoder learns from the critic only: an actor step leaves it untouched
    before = [p.detach().clone() for p in agent.encoder.parameters()]
    agent.critic_optimizer.step = lambda: None  # freeze the critic's step
    agent.update()
    assert all(torch.equal(a, b) for a, b in zip(before, agent.encoder.parameters()))
    agent.env.close()


def test_drqv2_applies_the_augmentation_in_every_update():
    agent = make_agent("drqv2", "Pendulum-v1", SMALL, seed=0, encoder_kwargs=dict(channels=4))
    agent.ensure_built()
    agent.reset_env()
    while agent.global_step < 20:
        agent.iterate()
    calls = []
    agent.augment.register_forward_hook(lambda mod, inp, out: calls.append(out.shape))
    agent.update()
    assert calls == [(8, 3, 16, 16), (8, 3, 16, 16)]  # obs and next_obs
    agent.env.close()


def test_drqv2_schedules_exploration_std_linearly():
    agent = make_agent("drqv2", "Pendulum-v1", dict(SMALL, std_start=1.0, std_end=0.2, std_steps=100))
    for step, std in ((0, 1.0), (50, 0.6), (100, 0.2), (1000, 0.2)):
        agent.global_step = step
        assert agent.std() == pytest.approx(std)


def test_drqv2_refuses_what_it_cannot_use():
    with pytest.raises(RLCoreError, match="CartPole-v1"):
        make_agent("drqv2", "CartPole-v1")
    agent = make_agent("drqv2", "Pendulum-v1", SMALL, storage="replay")
    with pytest.raises(RLCoreError, match="n_step=3.*nstep_replay"):
        agent.ensure_built()
    agent = make_agent("drqv2", "Pendulum-v1", dict(SMALL, pixels=False), encoder="mlp")
    with pytest.raises(RLCoreError, match="random_shift.*augmentation=None"):
        agent.ensure_built()
    agent.set(augmentation=None).ensure_built()  # state-based ablation without augmentation
    agent.env.close()
    with pytest.raises(RLCoreError, match="drq_cnn"):
        make_agent("drqv2", "Pendulum-v1", dict(SMALL, pixels=False)).ensure_built()


def test_random_shift_is_reproducible_with_a_generator():
    x = torch.rand(8, 3, 16, 16) * 255
    a = RandomShift(2, generator=torch.Generator().manual_seed(1))(x)
    b = RandomShift(2, generator=torch.Generator().manual_seed(1))(x)
    assert torch.equal(a, b)


# ----- action repeat --------------------------------------------------------------------------
def test_action_repeat_sums_rewards_and_stops_at_episode_ends():
    plain = make_env("Pendulum-v1", num_envs=2, backend="torch")
    repeat = make_env("Pendulum-v1", num_envs=2, backend="torch", action_repeat=3)
    plain.reset(seed=0)
    repeat.reset(seed=0)
    action = torch.tensor([[1.0], [-2.0]])
    total = sum(plain.step(action).reward for _ in range(3))
    s = repeat.step(action)
    torch.testing.assert_close(s.reward, total)
    torch.testing.assert_close(s.obs, plain._observe(plain._state))  # the state after 3 steps
    # 199 of 200 steps taken: the next step ends the episodes after one env step
    repeat.env.set_state(repeat.env.get_state(), elapsed_steps=torch.tensor([199, 199]))
    s = repeat.step(action)
    assert s.truncated.all()
    assert [length for _, length in repeat.pop_episodes()] == [200, 200]
    with pytest.raises(RLCoreError, match="action_repeat"):
        make_env("Pendulum-v1", action_repeat=0)


def test_drqv2_env_options_reach_make_env():
    agent = make_agent("drqv2", "Pendulum-v1", dict(SMALL, action_repeat=2, frame_stack=2, image_channels=3))
    assert agent.observation_space.shape == (6, 16, 16)
    agent.ensure_built()
    kwargs = agent.env.make_kwargs
    assert kwargs["action_repeat"] == 2 and kwargs["frame_stack"] == 1
    assert kwargs["pixels"] == dict(size=16, frames=2, channels=3)
    agent.env.close()
