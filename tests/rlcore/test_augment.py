"""Built-in augmentations (registry kind ``augmentations``) and DrAC regularisation in PPO and A2C."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcore import make_agent, registry
from rlcore.augment.drac import drac_loss, drac_regularizer
from rlcore.errors import RLCoreError

torch.set_num_threads(1)

IMAGE_KEYS = ["random_crop", "color_jitter", "grayscale", "cutout", "random_flip", "random_rotate",
              "random_conv"]
ANY_SHAPE_KEYS = ["gaussian_noise", "random_amplitude_scaling"]
# kwargs under which each augmentation changes every sample of a random input
CHANGING = {"grayscale": {"p": 1.0}, "random_flip": {"p": 1.0}}


def make(key, seed=None, **kwargs):
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    return registry.get("augmentations", key)(generator=gen, **kwargs)


def images(b=6, c=9, h=16, w=16, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, c, h, w, generator=g) * 255).to(dtype)


def differs_per_sample(y: torch.Tensor) -> bool:
    return any(not torch.equal(y[0], y[i]) for i in range(1, len(y)))


# ----- properties every built-in augmentation has ---------------------------------------------
@pytest.mark.parametrize("key", IMAGE_KEYS + ANY_SHAPE_KEYS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_keeps_shape_and_dtype_and_changes_every_sample(key, dtype):
    x = images(dtype=dtype)
    y = make(key, seed=0, **CHANGING.get(key, {}))(x)
    assert y.shape == x.shape and y.dtype == dtype and torch.isfinite(y).all()
    assert all(not torch.equal(x[i], y[i]) for i in range(len(x))), key


@pytest.mark.parametrize("key", IMAGE_KEYS)
def test_image_augmentations_refuse_vectors_and_bytes_in_one_sentence(key):
    for bad in (torch.rand(4, 5), torch.rand(4, 3, 8)):
        with pytest.raises(RLCoreError, match=r"\[B, C, H, W\]") as err:
            make(key)(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(RLCoreError, match=r"\.float\(\)"):
        make(key)(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("key", ANY_SHAPE_KEYS)
def test_vector_batches_are_accepted(key):
    x = torch.randn(7, 5)
    y = make(key, seed=1)(x)
    assert y.shape == x.shape and not torch.equal(x, y)


@pytest.mark.parametrize("key", IMAGE_KEYS + ANY_SHAPE_KEYS)
def test_draws_are_independent_per_sample(key):
    x = images(b=12, seed=3)[:1].expand(12, -1, -1, -1).contiguous()  # one image, 12 times
    y = make(key, seed=5)(x)
    assert differs_per_sample(y), f"{key} gave every copy of one image the same transform"


@pytest.mark.parametrize("key", IMAGE_KEYS + ANY_SHAPE_KEYS)
def test_seeded_generator_is_deterministic_and_leaves_global_rng_alone(key):
    x = images()
    state = torch.get_rng_state()
    a, b, c = make(key, seed=7)(x), make(key, seed=7)(x), make(key, seed=8)(x)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("key", registry.keys("augmentations"))
def test_global_rng_seed_makes_any_registered_augmentation_repeatable(key):
    aug = registry.get("augmentations", key)()
    x = images(c=3)
    torch.manual_seed(11)
    a = aug(x)
    torch.manual_seed(11)
    assert torch.equal(a, aug(x))


@pytest.mark.parametrize("key,kwargs", [
    ("random_crop", {"min_scale": 0.0}), ("random_flip", {"p": 1.5}), ("random_flip", {"direction": "diagonal"}),
    ("random_rotate", {"degrees": -1}), ("cutout", {"min_size": 0.5, "max_size": 0.2}),
    ("color_jitter", {"hue": 0.7}), ("grayscale", {"p": -0.1}), ("random_conv", {"kernel_size": 2}),
    ("gaussian_noise", {"std": -1.0}), ("random_amplitude_scaling", {"low": 2.0, "high": 1.0}),
])
def test_bad_arguments_are_refused_in_one_sentence(key, kwargs):
    with pytest.raises(RLCoreError) as err:
        make(key, **kwargs)
    msg = str(err.value)
    assert key in msg and "\n" not in msg


# ----- per-augmentation behaviour -------------------------------------------------------------
def test_grayscale_makes_the_three_channels_of_every_frame_equal_luminance():
    x = images(c=9)
    y = make("grayscale", p=1.0)(x)
    frames = y.view(6, 3, 3, 16, 16)
    assert torch.equal(frames[:, :, 0], frames[:, :, 1]) and torch.equal(frames[:, :, 0], frames[:, :, 2])
    xf = x.view(6, 3, 3, 16, 16)
    luma = 0.299 * xf[:, :, 0] + 0.587 * xf[:, :, 1] + 0.114 * xf[:, :, 2]
    torch.testing.assert_close(frames[:, :, 0], luma)
    assert torch.equal(make("grayscale", p=0.0)(x), x)
    with pytest.raises(RLCoreError, match="multiple of 3"):
        make("grayscale")(images(c=4))


def test_grayscale_converts_about_p_of_the_samples():
    x = images(b=2000, c=3, h=2, w=2)
    y = make("grayscale", seed=0, p=0.3)(x)
    converted = (y[:, 0] == y[:, 1]).all(-1).all(-1)
    assert 0.25 < converted.float().mean().item() < 0.35


def test_flip_is_an_involution_under_one_mask_and_flips_about_half():
    x = images(b=400, c=3, h=4, w=5)
    once = make("random_flip", seed=4)(x)
    twice = make("random_flip", seed=4)(once)  # same generator state -> same mask
    assert torch.equal(twice, x)
    flipped = (once == x.flip(-1)).flatten(1).all(1)
    assert flipped.any() and ((once == x).flatten(1).all(1) | flipped).all()
    assert 0.4 < flipped.float().mean().item() < 0.6
    assert torch.equal(make("random_flip", p=1.0, direction="vertical")(x), x.flip(-2))
    assert torch.equal(make("random_flip", p=0.0)(x), x)


def test_cutout_fills_one_rectangle_of_all_channels_and_keeps_the_rest():
    x = images(b=50, c=6, h=20, w=30) + 1.0  # no pixel is 0 before the cutout
    y = make("cutout", seed=2, min_size=0.2, max_size=0.5)(x)
    hole = y == 0.0
    assert (hole == hole[:, :1]).all(), "the patch must cover every channel"
    hole = hole[:, 0]
    assert torch.equal(y[:, 0][~hole], x[:, 0][~hole])
    rows, cols = hole.any(2), hole.any(1)
    assert torch.equal(hole, rows[:, :, None] & cols[:, None, :]), "the patch must be a rectangle"
    for r, c in zip(rows, cols):
        for run, n in ((r, 20), (c, 30)):
            idx = run.nonzero().squeeze(1)
            assert idx.numel() == idx[-1] - idx[0] + 1  # contiguous
            assert round(0.2 * n) <= idx.numel() <= round(0.5 * n)
    assert torch.equal(make("cutout", value=7.0, min_size=1.0, max_size=1.0)(x), torch.full_like(x, 7.0))


def test_random_crop_zooms_in_and_stays_in_range():
    x = images()
    torch.testing.assert_close(make("random_crop", min_scale=1.0)(x), x, rtol=0, atol=1e-3)
    y = make("random_crop", seed=0)(x)
    assert y.min() >= x.min() - 1e-4 and y.max() <= x.max() + 1e-4
    ramp = torch.arange(32.0).expand(8, 3, 32, 32)  # value = column index
    z = make("random_crop", seed=1, min_scale=0.5)(ramp)
    spread = z[:, 0, 0, -1] - z[:, 0, 0, 0]  # about s * 32 columns of the ramp are kept
    assert (spread <= 31 + 1e-4).all() and (spread >= 0.5 * 32 - 2).all() and (spread < 31 - 1e-3).any()


def test_random_rotate_keeps_the_centre_and_fills_outside_with_zero():
    x = images(c=3, h=15, w=15) + 1.0
    torch.testing.assert_close(make("random_rotate", degrees=0.0)(x), x, rtol=0, atol=1e-3)
    y = make("random_rotate", seed=0, degrees=180.0)(x)
    torch.testing.assert_close(y[..., 7, 7], x[..., 7, 7], rtol=0, atol=1e-3)
    assert y.min() >= 0.0 and y.max() <= x.max() + 1e-4
    corners = y[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 0).any(), "large rotations bring zero padding into the corners"


def test_color_jitter_shares_draws_across_frames_and_clamps_to_max_value():
    frame = images(b=5, c=3)
    x = frame.repeat(1, 3, 1, 1) / 255.0  # 3 identical RGB frames in 0..1
    y = make("color_jitter", seed=0, brightness=0.8, contrast=0.8, saturation=0.8, hue=0.3,
             max_value=1.0)(x)
    assert torch.equal(y[:, :3], y[:, 3:6]) and torch.equal(y[:, :3], y[:, 6:])
    assert y.min() >= 0.0 and y.max() <= 1.0
    off = make("color_jitter", brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    torch.testing.assert_close(off(images()), images(), rtol=1e-4, atol=1e-3)


def test_color_jitter_brightness_scales_each_sample_by_one_factor():
    x = images(c=4) * 0.4 + 1.0  # grey frames (C % 3 != 0), well below 255 after scaling
    y = make("color_jitter", seed=3, brightness=0.4, contrast=0.0, saturation=0.0, hue=0.0)(x)
    ratio = (y / x).flatten(1)
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    assert ((ratio[:, 0] >= 0.6) & (ratio[:, 0] <= 1.4)).all() and differs_per_sample(ratio)


def test_random_conv_stays_in_range_and_shares_the_kernel_across_frames():
    x = images(b=4, c=3).repeat(1, 2, 1, 1)
    y = make("random_conv", seed=0)(x)
    assert y.min() >= 0.0 and y.max() <= 255.0
    assert torch.equal(y[:, :3], y[:, 3:])
    grey = make("random_conv", seed=0, kernel_size=5)(images(c=4))
    assert grey.shape == (6, 4, 16, 16)


def test_gaussian_noise_has_the_requested_std_and_zero_std_is_identity():
    x = torch.randn(4000, 10)
    y = make("gaussian_noise", seed=0, std=0.5)(x)
    assert abs((y - x).std().item() - 0.5) < 0.02 and abs((y - x).mean().item()) < 0.02
    assert torch.equal(make("gaussian_noise", std=0.0)(x), x)


def test_amplitude_scaling_multiplies_each_sample_by_one_factor_in_range():
    x = torch.rand(300, 6) + 0.5
    ratio = make("random_amplitude_scaling", seed=0, low=0.6, high=1.2)(x) / x
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    assert ratio.min() >= 0.6 - 1e-6 and ratio.max() <= 1.2 + 1e-6 and ratio.std() > 0.1


# ----- the DrAC loss --------------------------------------------------------------------------
def test_drac_loss_golden_value_and_gradients_only_through_the_augmented_branch():
    lp = torch.tensor([-1.0, -2.0], requires_grad=True)
    aug_lp = torch.tensor([-1.5, -1.0], requires_grad=True)
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    aug_v = torch.tensor([2.0, 2.0], requires_grad=True)
    loss = drac_loss(lp, aug_lp, v, aug_v)
    # policy: mean(-1 + 1.5, -2 + 1) = -0.25; value: mean(1, 0) = 0.5
    torch.testing.assert_close(loss, torch.tensor(0.25))
    loss.backward()
    assert lp.grad is None and v.grad is None
    torch.testing.assert_close(aug_lp.grad, torch.tensor([-0.5, -0.5]))
    torch.testing.assert_close(aug_v.grad, torch.tensor([1.0, 0.0]))


def test_drac_regularizer_is_zero_for_an_identity_augmentation():
    agent = make_agent("ppo", "CartPole-v1", {"n_steps": 8}, seed=0, num_envs=2).build()
    obs = torch.randn(16, 4)
    dist, values = agent.policy(obs)
    reg = drac_regularizer(agent.policy, torch.nn.Identity(), obs, dist, values)
    torch.testing.assert_close(reg, torch.tensor(0.0))
    noisy = drac_regularizer(agent.policy, make("gaussian_noise", std=1.0), obs, dist, values)
    assert noisy.requires_grad and noisy.item() != 0.0
    agent.env.close()


# ----- PPO and A2C use the augmentation --------------------------------------------------------
ALGOS = {"ppo": {"n_steps": 8, "batch_size": 8, "n_epochs": 2}, "a2c": {"n_steps": 8}}


def run_once(algo, *, hooks=False, **kwargs):
    """Build ``algo`` on CartPole (2 envs, seed 0), collect one rollout and update once."""
    config = dict(ALGOS[algo], **kwargs.pop("config", {}))
    agent = make_agent(algo, "CartPole-v1", config, seed=0, num_envs=2, **kwargs).build()
    agent.use_eager()  # agents with an augmentation are eager; the plain one must sample the same way
    calls, policy_inputs = [], []
    if hooks:
        agent.augmentation.register_forward_hook(lambda m, i, o: calls.append((i[0].clone(), o.clone())))
        agent.policy.register_forward_hook(lambda m, i, o: policy_inputs.append(i[0].clone()))
    agent.reset_env()
    _, metrics = agent.iterate()
    params = torch.cat([p.detach().flatten() for p in agent.policy.parameters()])
    agent.env.close()
    return agent, metrics, params, calls, policy_inputs


@pytest.mark.parametrize("algo", list(ALGOS))
def test_agent_feeds_augmented_minibatches_to_its_policy(algo):
    agent, metrics, _, calls, policy_inputs = run_once(algo, hooks=True, augmentation="gaussian_noise",
                                                       augmentation_kwargs={"std": 0.3})
    assert agent.modules()["augmentation"] == "gaussian_noise" and agent.augmentation.std == 0.3
    minibatches = 4 if algo == "ppo" else 1  # 16 transitions: 2 epochs x 2 minibatches, or 1 batch
    assert len(calls) == minibatches
    stored = agent.storage.obs.reshape(-1, 4)
    for inp, out in calls:
        assert inp.dtype == torch.float32 and inp.shape[1:] == (4,)
        assert all((stored == row).all(1).any() for row in inp), "the augmentation sees stored observations"
        assert any(p.shape == out.shape and torch.equal(p, out) for p in policy_inputs), \
            "the augmented batch must reach the policy"
    assert np.isfinite(metrics["aug_loss"])


@pytest.mark.parametrize("algo", list(ALGOS))
def test_the_regulariser_is_what_changes_the_update(algo):
    _, plain, base, _, _ = run_once(algo)
    assert "aug_loss" not in plain
    _, zero, p_zero, _, _ = run_once(algo, augmentation="gaussian_noise", config={"aug_coef": 0.0})
    _, used, p_used, _, _ = run_once(algo, augmentation="gaussian_noise", config={"aug_coef": 1.0})
    assert "aug_loss" in zero and "aug_loss" in used
    # the plain agent may take the fused update path (rlcore.fast): equal up to float rounding
    torch.testing.assert_close(p_zero, base, rtol=0, atol=1e-6,
                               msg="same seed and aug_coef=0 must give the plain update")
    assert (p_used - base).abs().max() > 1e-4, "aug_coef>0 must change the update"
    if algo == "a2c":  # one step on one batch: the reported losses are the agent's own, before the step
        assert plain["policy_loss"] == used["policy_loss"] and plain["value_loss"] == used["value_loss"]


@pytest.mark.parametrize("algo", list(ALGOS))
def test_augmentations_that_cannot_handle_the_observations_are_refused(algo):
    agent = make_agent(algo, "CartPole-v1")
    assert set(ANY_SHAPE_KEYS) <= set(agent.accepted("augmentation"))
    assert not set(IMAGE_KEYS) & set(agent.accepted("augmentation"))
    with pytest.raises(RLCoreError, match="random_crop.*gaussian_noise") as err:
        agent.set(augmentation="random_crop")
    assert "\n" not in str(err.value)
    with pytest.raises(RLCoreError, match="gaussian_noise std"):
        make_agent(algo, "CartPole-v1", augmentation="gaussian_noise",
                   augmentation_kwargs={"std": -1}).build()


class ImageVecEnv:
    """Spaces of a 2-env byte-image task; the test fills the rollout storage itself."""

    def __init__(self, channels: int):
        self.env_id, self.num_envs, self.device = "Images-v0", 2, torch.device("cpu")
        self.single_observation_space = gym.spaces.Box(0, 255, (channels, 12, 12), dtype=np.uint8)
        self.single_action_space = gym.spaces.Discrete(3)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_byte_images_are_augmented_as_floats_in_0_255(algo):
    rgb = registry.get("agents", algo)(ImageVecEnv(3))
    assert set(IMAGE_KEYS) <= set(rgb.accepted("augmentation"))
    grey = registry.get("agents", algo)(ImageVecEnv(4))
    assert "grayscale" not in grey.accepted("augmentation")
    agent = registry.get("agents", algo)(ImageVecEnv(6), ALGOS[algo], augmentation="random_crop")
    agent.build()
    seen = []
    agent.augmentation.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    g = torch.Generator().manual_seed(0)
    for _ in range(agent.config.n_steps):
        obs = torch.randint(0, 256, (2, 6, 12, 12), dtype=torch.uint8, generator=g)
        agent.storage.add(obs, torch.randint(0, 3, (2,), generator=g), torch.randn(2, generator=g),
                          torch.randn(2, generator=g), torch.randn(2, generator=g), torch.zeros(2))
    agent.storage.finish(torch.zeros(2), 0.99, 0.95)
    metrics = agent.update()
    assert np.isfinite(metrics["aug_loss"]) and seen
    assert all(x.dtype == torch.float32 and x.max() > 1.0 for x in seen)
