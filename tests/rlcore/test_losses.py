"""Golden values for the pure losses in rlcore.losses."""

import math

import torch
from torch import nn

from rlcore.losses import approx_kl, normalize, ppo_policy_loss, soft_update, value_loss

torch.set_num_threads(1)


def t(x, **kw):
    return torch.tensor(x, dtype=torch.float32, **kw)


# Ratios 0.5, 1, 1.5, 1.5, 0.5 with advantages 1, 1, 1, -1, -1 and clip 0.2:
#   r=.5,  A=+1: min(.5, .8)    = .5    (below the range, the unclipped term is kept)
#   r=1,   A=+1: 1
#   r=1.5, A=+1: min(1.5, 1.2)  = 1.2   (clipped above)
#   r=1.5, A=-1: min(-1.5,-1.2) = -1.5  (unclipped)
#   r=.5,  A=-1: min(-.5, -.8)  = -.8   (clipped below)
# loss = -(.5 + 1 + 1.2 - 1.5 - .8) / 5 = -0.08; 4 of 5 ratios lie outside [0.8, 1.2].
RATIOS = [0.5, 1.0, 1.5, 1.5, 0.5]
ADVANTAGES = [1.0, 1.0, 1.0, -1.0, -1.0]


def test_ppo_policy_loss_clips_on_both_sides():
    old = t([-1.0, -2.0, -0.5, -1.5, -3.0])
    log_probs = (old + torch.log(t(RATIOS))).requires_grad_(True)
    loss, clip_frac = ppo_policy_loss(log_probs, old, t(ADVANTAGES), clip=0.2)
    assert math.isclose(loss.item(), -0.08, abs_tol=1e-6)
    assert math.isclose(clip_frac.item(), 0.8, abs_tol=1e-6)
    loss.backward()
    # d loss / d logp_i = -A_i * r_i / 5 where the unclipped term is active, 0 where clipped
    torch.testing.assert_close(log_probs.grad, t([-0.1, -0.2, 0.0, 0.3, 0.0]), rtol=0, atol=1e-6)


def test_ppo_policy_loss_at_ratio_one_is_minus_mean_advantage():
    lp = t([-0.3, -1.2, -0.7])
    loss, clip_frac = ppo_policy_loss(lp, lp.clone(), t([2.0, -1.0, 0.5]), clip=0.1)
    assert math.isclose(loss.item(), -0.5, abs_tol=1e-6)
    assert clip_frac.item() == 0.0


def test_value_loss_unclipped():
    v, ret = t([1.0, 2.0, 3.0]), t([2.0, 2.0, 0.0])
    assert math.isclose(value_loss(v, ret).item(), 10 / 3, rel_tol=1e-6)
    # clipping needs both old values and a range; either missing means plain MSE
    assert math.isclose(value_loss(v, ret, old_values=t([0.0, 2.0, 1.0])).item(), 10 / 3, rel_tol=1e-6)
    assert math.isclose(value_loss(v, ret, clip=0.5).item(), 10 / 3, rel_tol=1e-6)


def test_value_loss_clipped_takes_the_larger_error():
    # old 0, 2, 1 with clip .5 -> clipped values .5, 2, 1.5
    # squared errors: unclipped 1, 0, 9; clipped 2.25, 0, 2.25; elementwise max 2.25, 0, 9
    v, ret, old = t([1.0, 2.0, 3.0]), t([2.0, 2.0, 0.0]), t([0.0, 2.0, 1.0])
    assert math.isclose(value_loss(v, ret, old, clip=0.5).item(), 11.25 / 3, rel_tol=1e-6)


def test_approx_kl_golden_values():
    old = t([-1.0, -1.0])
    new = old + t([0.0, math.log(2.0)])
    # (r - 1) - log r: 0 for r = 1 and 1 - ln 2 for r = 2
    assert math.isclose(approx_kl(new, old).item(), (1 - math.log(2.0)) / 2, rel_tol=1e-5)
    assert approx_kl(old, old).item() == 0.0
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(100, generator=g), torch.randn(100, generator=g)
    assert approx_kl(a, b).item() > 0.0  # every term is non-negative


def test_normalize():
    x = t([1.0, 2.0, 3.0, 6.0])
    z = normalize(x)
    assert abs(z.mean().item()) < 1e-6
    assert math.isclose(z.std().item(), 1.0, rel_tol=1e-5)
    assert normalize(t([5.0])).tolist() == [0.0]


def _linear(weight, bias):
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(t([weight]))
        layer.bias.copy_(t([bias]))
    return layer


def test_soft_update_polyak_average():
    target, source = _linear([1.0, 2.0], 4.0), _linear([5.0, -2.0], 0.0)
    soft_update(target, source, tau=0.25)
    torch.testing.assert_close(target.weight.data, t([[2.0, 1.0]]))  # .75 * t + .25 * s
    torch.testing.assert_close(target.bias.data, t([3.0]))
    torch.testing.assert_close(source.weight.data, t([[5.0, -2.0]]))  # the source is untouched
    assert target.weight.grad is None


def test_soft_update_tau_one_is_a_hard_copy():
    target, source = _linear([1.0, 2.0], 4.0), _linear([5.0, -2.0], 0.5)
    soft_update(target, source, tau=1.0)
    torch.testing.assert_close(target.weight.data, source.weight.data)
    torch.testing.assert_close(target.bias.data, source.bias.data)
    assert target.weight.data_ptr() != source.weight.data_ptr()
