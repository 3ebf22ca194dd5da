"""Golden values for the pure return math in rlcore.returns (numbers worked out by hand)."""

import math

import pytest
import torch

from rlcore.returns import discounted_returns, gae, nstep_targets, td_target

torch.set_num_threads(1)


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def close(actual, expected):
    torch.testing.assert_close(actual, t(expected), rtol=0, atol=1e-6)


# ----- discounted_returns ---------------------------------------------------------------------
# T=3 steps of N=2 envs, gamma 0.5.
# env 0: r = 1, 2, 3, no done, bootstrap 4:  G2 = 3 + 2 = 5, G1 = 2 + 2.5 = 4.5, G0 = 1 + 2.25 = 3.25
# env 1: r = 1, 1, 1, done after step 1, bootstrap 10: G2 = 1 + 5 = 6, G1 = 1, G0 = 1 + 0.5 = 1.5
REWARDS = [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
DONES = [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]


def test_discounted_returns_with_boundary_and_per_env_bootstrap():
    out = discounted_returns(t(REWARDS), t(DONES), 0.5, last_value=t([4.0, 10.0]))
    close(out, [[3.25, 1.5], [4.5, 1.0], [5.0, 6.0]])


def test_discounted_returns_scalar_bootstrap_defaults_to_zero():
    out = discounted_returns(t(REWARDS), t(DONES), 0.5)
    # env 0: G2 = 3, G1 = 2 + 1.5 = 3.5, G0 = 1 + 1.75 = 2.75; env 1 as above with bootstrap 0
    close(out, [[2.75, 1.5], [3.5, 1.0], [3.0, 1.0]])
    out = discounted_returns(t(REWARDS), t(DONES), 0.5, last_value=2.0)
    close(out[:, 0], [3.0, 4.0, 4.0])


def test_discounted_returns_accepts_bool_dones_and_a_done_on_the_last_step():
    out = discounted_returns(t([[1.0], [1.0]]), torch.tensor([[False], [True]]), 0.9, last_value=t([100.0]))
    close(out, [[1.9], [1.0]])  # the bootstrap is cut by the final done


# ----- gae ------------------------------------------------------------------------------------
# gamma 0.5, lambda 0.5 (so gamma * lambda = 0.25).
# env 0: r = 1, 0, 2; V = .5, 1, 2; no done; V_T = 4
#   delta2 = 2 + 2 - 2 = 2, delta1 = 0 + 1 - 1 = 0, delta0 = 1 + .5 - .5 = 1
#   A2 = 2, A1 = 0 + .25 * 2 = .5, A0 = 1 + .25 * .5 = 1.125; returns A + V = 1.625, 1.5, 4
# env 1: r = 1, 1, 1; V = 1, 2, 3; done after step 1; V_T = 2
#   delta2 = 1 + 1 - 3 = -1, delta1 = 1 + 0 - 2 = -1, delta0 = 1 + 1 - 1 = 1
#   A2 = -1, A1 = -1 (cut by the done), A0 = 1 + .25 * -1 = .75; returns 1.75, 1, 2
GAE_R = [[1.0, 1.0], [0.0, 1.0], [2.0, 1.0]]
GAE_V = [[0.5, 1.0], [1.0, 2.0], [2.0, 3.0]]
GAE_D = [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]


def test_gae_golden_values_two_envs_with_a_boundary():
    adv, ret = gae(t(GAE_R), t(GAE_V), t(GAE_D), t([4.0, 2.0]), gamma=0.5, lam=0.5)
    close(adv, [[1.125, 0.75], [0.5, -1.0], [2.0, -1.0]])
    close(ret, [[1.625, 1.75], [1.5, 1.0], [4.0, 2.0]])


def test_gae_lambda_zero_is_the_td_error_and_lambda_one_is_the_discounted_return():
    r, v, d, last = t(GAE_R), t(GAE_V), t(GAE_D), t([4.0, 2.0])
    adv0, _ = gae(r, v, d, last, gamma=0.5, lam=0.0)
    close(adv0, [[1.0, 1.0], [0.0, -1.0], [2.0, -1.0]])
    _, ret1 = gae(r, v, d, last, gamma=0.5, lam=1.0)
    torch.testing.assert_close(ret1, discounted_returns(r, d, 0.5, last_value=last))


def _gae_loop(r, v, d, last, gamma, lam):
    """An independent, element-by-element reference implementation."""
    T, N = len(r), len(r[0])
    adv = [[0.0] * N for _ in range(T)]
    for n in range(N):
        running = 0.0
        for step in reversed(range(T)):
            nxt = last[n] if step == T - 1 else v[step + 1][n]
            live = 1.0 - d[step][n]
            delta = r[step][n] + gamma * live * nxt - v[step][n]
            running = delta + gamma * lam * live * running
            adv[step][n] = running
    return adv


def test_gae_matches_a_plain_python_loop_on_random_data():
    g = torch.Generator().manual_seed(0)
    T, N = 7, 3
    r = torch.randn(T, N, generator=g)
    v = torch.randn(T, N, generator=g)
    d = (torch.rand(T, N, generator=g) < 0.3).float()
    last = torch.randn(N, generator=g)
    adv, ret = gae(r, v, d, last, gamma=0.9, lam=0.8)
    expected = t(_gae_loop(r.tolist(), v.tolist(), d.tolist(), last.tolist(), 0.9, 0.8))
    torch.testing.assert_close(adv, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ret, expected + v, rtol=1e-5, atol=1e-5)


# ----- nstep_targets --------------------------------------------------------------------------
# n = 3, gamma 0.5, rewards 1, 2, 4 in every row (discounted: 1, 1, 1), bootstrap 8.
#   no done:          3 + 0.125 * 8 = 4,  discount 0.125
#   done after k=1:   1 + 1 = 2 (reward k=2 ignored), discount 0
#   done after k=0:   1, discount 0
#   done after k=2:   3, discount 0
def test_nstep_targets_golden_values():
    rewards = t([[1.0, 2.0, 4.0]] * 4)
    dones = t([[0, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    target, discount = nstep_targets(rewards, dones, t([8.0] * 4), gamma=0.5)
    close(target, [4.0, 2.0, 1.0, 3.0])
    close(discount, [0.125, 0.0, 0.0, 0.0])


def test_nstep_targets_with_n_one_is_the_td_target():
    r, d, nxt = t([1.0, 2.0, -1.0]), t([0.0, 1.0, 0.0]), t([10.0, 10.0, 3.0])
    target, discount = nstep_targets(r[:, None], d[:, None], nxt, gamma=0.9)
    torch.testing.assert_close(target, td_target(r, d, nxt, 0.9))
    close(discount, [0.9, 0.0, 0.9])


# ----- td_target ------------------------------------------------------------------------------
def test_td_target_golden_values():
    close(td_target(t([1.0, 2.0]), t([0.0, 1.0]), t([10.0, 10.0]), 0.9), [10.0, 2.0])
    # per-sample discounts (as n-step storages provide) and bool dones
    out = td_target(t([1.0, 2.0]), torch.tensor([False, True]), t([10.0, 10.0]), t([0.5, 0.25]))
    close(out, [6.0, 2.0])


@pytest.mark.parametrize("gamma", [0.0, 0.99])
def test_td_target_gamma_edge(gamma):
    out = td_target(t([1.5]), t([0.0]), t([2.0]), gamma)
    assert math.isclose(out.item(), 1.5 + gamma * 2.0, rel_tol=1e-6)
