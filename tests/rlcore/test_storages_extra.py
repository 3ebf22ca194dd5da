"""n-step and prioritized replay, the sum tree, Dict observations, and off-policy agents using them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcore import make_agent
from rlcore.agents import offpolicy
from rlcore.errors import RLCoreError
from rlcore.returns import nstep_returns, td_target
from rlcore.storage import NStepReplay, PrioritizedReplay, ReplayStorage, RolloutStorage, SumTree
from rlcore.storage.nstep import nstep_batch
from rlcore.storage.prioritized import importance_weights

torch.set_num_threads(1)

OBS = gym.spaces.Box(-100.0, 100.0, (1,), dtype=np.float32)
ACT = gym.spaces.Discrete(2)


def t(x):
    return torch.tensor(x, dtype=torch.float32)


# ----- nstep_returns (pure) -------------------------------------------------------------------
def test_nstep_returns_golden_values():
    # gamma 0.5; row 0 runs the full window; row 1 stops after step 1 (terminated there);
    # row 2 stops after step 0 (truncated or nothing newer), not terminal; row 3 ignores the
    # last column of stops
    rewards = t([[1, 2, 4], [1, 2, 4], [3, 9, 9], [1, 1, 1]])
    terminated = t([[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])
    stops = t([[0, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    returns, discounts, steps, dones = nstep_returns(rewards, terminated, stops, 0.5)
    torch.testing.assert_close(returns, t([1 + 1 + 1, 1 + 1, 3, 1 + 0.5 + 0.25]))
    torch.testing.assert_close(discounts, t([0.125, 0.25, 0.5, 0.125]))
    assert steps.tolist() == [3, 2, 1, 3]
    torch.testing.assert_close(dones, t([0, 1, 0, 1]))
    # with n = 1 it is the one-step transition
    r, d, k, done = nstep_returns(t([[2.0]]), t([[1.0]]), t([[1.0]]), 0.9)
    assert (r.item(), k.item(), done.item()) == (2.0, 1, 1.0) and d.item() == pytest.approx(0.9)


def test_td_target_with_per_sample_discounts_is_the_nstep_target():
    returns, discounts, _, dones = nstep_returns(t([[1, 2, 4]]), t([[0, 0, 0]]), t([[0, 0, 0]]), 0.5)
    target = td_target(returns, dones, t([8.0]), discounts)
    torch.testing.assert_close(target, t([1 + 1 + 1 + 0.125 * 8]))


# ----- nstep_replay ---------------------------------------------------------------------------
# Two envs, five steps. obs of (step s, env e) is 10 s + e; next_obs is obs + 0.5.
# env 0: rewards 1..5, terminated after step 1.  env 1: rewards 10..50, truncated after step 2.
def _fill(storage, steps=5):
    for s in range(steps):
        obs = t([[10 * s], [10 * s + 1]])
        reward = t([s + 1, 10 * (s + 1)])
        terminated = torch.tensor([s == 1, False])
        truncated = torch.tensor([False, s == 2])
        storage.add(obs, torch.zeros(2, dtype=torch.long), reward, obs + 0.5, terminated, truncated)


# (step, env) -> (n-step return, discount, done, next_obs) with gamma 0.5 and n = 3
EXPECTED = {
    (0, 0): (1 + 0.5 * 2, 0.25, 1.0, 10.5),  # stops at the termination after step 1
    (1, 0): (2.0, 0.5, 1.0, 10.5),
    (2, 0): (3 + 0.5 * 4 + 0.25 * 5, 0.125, 0.0, 40.5),
    (3, 0): (4 + 0.5 * 5, 0.25, 0.0, 40.5),  # step 5 is not collected yet
    (4, 0): (5.0, 0.5, 0.0, 40.5),
    (0, 1): (10 + 0.5 * 20 + 0.25 * 30, 0.125, 0.0, 21.5),
    (1, 1): (20 + 0.5 * 30, 0.25, 0.0, 21.5),  # stops at the truncation, bootstraps from 21.5
    (2, 1): (30.0, 0.5, 0.0, 21.5),
    (3, 1): (40 + 0.5 * 50, 0.25, 0.0, 41.5),
    (4, 1): (50.0, 0.5, 0.0, 41.5),
}


def _check_expected(batch):
    for i, obs in enumerate(batch.obs[:, 0].long().tolist()):
        ret, disc, done, nxt = EXPECTED[(obs // 10, obs % 10)]
        assert batch.rewards[i].item() == pytest.approx(ret), obs
        assert batch.discounts[i].item() == pytest.approx(disc), obs
        assert batch.dones[i].item() == done, obs
        assert batch.next_obs[i, 0].item() == pytest.approx(nxt), obs


@pytest.mark.parametrize("capacity", [16, 6, 5])  # roomy, wrapped, and not a multiple of num_envs
def test_nstep_replay_golden_values_across_episode_ends_env_boundaries_and_wraparound(capacity):
    storage = NStepReplay(OBS, ACT, 2, capacity, n_step=3, gamma=0.5)
    _fill(storage)
    assert len(storage) == min(10, capacity)
    held = torch.arange(len(storage))
    batch = nstep_batch(storage, held, 3, 0.5)
    held_ids = sorted(batch.obs[:, 0].long().tolist())
    assert held_ids == sorted(10 * s + e for s in range(5) for e in range(2))[-len(storage):]
    _check_expected(batch)
    _check_expected(storage.sample(200, torch.Generator().manual_seed(0)))


def test_nstep_replay_without_truncation_flags_runs_through_time_limits():
    storage = NStepReplay(OBS, ACT, 1, 8, n_step=2, gamma=0.5)
    for s in range(3):
        storage.add(t([[s]]), torch.zeros(1, dtype=torch.long), t([1.0]), t([[s + 0.5]]), torch.tensor([False]))
    batch = nstep_batch(storage, torch.tensor([0]), 2, 0.5)
    assert batch.rewards.item() == 1.5 and batch.next_obs.item() == 1.5


def test_nstep_replay_refuses_bad_arguments_and_partial_batches():
    with pytest.raises(RLCoreError, match="n_step"):
        NStepReplay(OBS, ACT, 2, 8, n_step=0)
    storage = NStepReplay(OBS, ACT, 2, 8)
    with pytest.raises(RLCoreError, match="one row per env"):
        storage.add(t([[0.0]]), torch.zeros(1, dtype=torch.long), t([0.0]), t([[0.0]]), torch.tensor([False]))


# ----- sum tree -------------------------------------------------------------------------------
@pytest.mark.parametrize("branching", [2, 3, 16])
def test_sum_tree_prefix_search_and_updates(branching):
    tree = SumTree(5, branching=branching)  # 5 leaves: the last level is padded with empty ones
    tree.update(torch.arange(4), t([1, 2, 3, 4]))
    assert tree.total == 10
    values = t([0, 0.99, 1, 2.99, 3, 5.99, 6, 9.99])
    assert tree.find(values).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    tree.update(torch.tensor([1, 1, 4]), t([0.5, 0.5, 2.5]))  # a repeated index is fine
    assert tree.total == pytest.approx(11.0)
    assert tree.get(torch.tensor([0, 1, 4])).tolist() == [1.0, 0.5, 2.5]
    assert tree.find(t([1.2, 4.6, 8.6, 10.9])).tolist() == [1, 3, 4, 4]
    # every node is the sum of its children
    for upper, lower in zip(tree.levels, tree.levels[1:]):
        torch.testing.assert_close(upper[: len(lower) // branching], lower.view(-1, branching).sum(1))
    assert len(tree.levels[0]) == branching


@pytest.mark.parametrize("branching", [2, 16])
def test_sum_tree_search_matches_cumulative_sums_on_random_priorities(branching):
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1000, generator=g, dtype=torch.float64)
    p[::7] = 0.0  # zero-priority leaves are never found
    tree = SumTree(1000, branching=branching)
    tree.update(torch.arange(1000), p)
    v = torch.rand(5000, generator=g, dtype=torch.float64) * p.sum()
    expected = torch.searchsorted(p.cumsum(0), v, right=True)
    found = tree.find(v)
    assert torch.equal(found, expected)
    assert (p[found] > 0).all()


# ----- prioritized_replay ---------------------------------------------------------------------
def _filled_prioritized(n=8, **kwargs):
    storage = PrioritizedReplay(OBS, ACT, 1, n, **kwargs)
    for s in range(n):
        storage.add(t([[s]]), torch.zeros(1, dtype=torch.long), t([s]), t([[s + 0.5]]), torch.tensor([False]))
    return storage


def test_prioritized_sampling_frequencies_follow_priorities():
    storage = _filled_prioritized(alpha=0.5)
    td = t([0, 1, 3, 0, 8, 1, 0, 2]) ** 2  # priority^alpha = |td| ** 0.5 = 0, 1, 3, 0, 8, 1, 0, 2
    storage.update_priorities(torch.arange(8), td)
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(8)
    for _ in range(100):
        b = storage.sample(256, g)
        counts += torch.bincount(b.indices, minlength=8)
        torch.testing.assert_close(b.obs[:, 0], b.indices.float())
    freq = counts / counts.sum()
    expected = (td + storage.eps) ** 0.5
    expected = expected / expected.sum()
    assert (freq - expected).abs().max() < 0.01, freq


def test_importance_weights_formula_and_normalisation():
    storage = _filled_prioritized(alpha=1.0, beta=0.5)
    pri = t([1, 2, 3, 4, 5, 6, 7, 8])
    storage.update_priorities(torch.arange(8), pri)
    b = storage.sample(64, torch.Generator().manual_seed(1))
    probs = (pri + storage.eps) / (pri + storage.eps).sum()
    w = (8 * probs[b.indices]) ** -0.5
    torch.testing.assert_close(b.weights, (w / w.max()).float())
    assert b.weights.max() == 1.0
    torch.testing.assert_close(importance_weights(t([0.5, 0.25]), 4, 1.0), t([0.5, 1.0]))


def test_beta_anneals_to_one_by_samples_or_by_training_progress():
    storage = _filled_prioritized(beta=0.4, beta_steps=4)
    betas = []
    for _ in range(6):
        betas.append(storage.beta)
        storage.sample(4)
    assert betas == pytest.approx([0.4, 0.55, 0.7, 0.85, 1.0, 1.0])
    remaining = [1.0]
    storage = _filled_prioritized(beta=0.4, progress=lambda: remaining[0])
    assert storage.beta == pytest.approx(0.4)
    remaining[0] = 0.5
    assert storage.beta == pytest.approx(0.7)
    remaining[0] = 0.0
    assert storage.beta == pytest.approx(1.0)


def test_new_transitions_get_the_largest_priority_seen():
    storage = _filled_prioritized(n=4, alpha=1.0)
    storage.update_priorities(torch.tensor([0, 1]), t([10.0, 0.1]))
    assert storage.tree.get(torch.tensor([0, 1, 2])).tolist() == pytest.approx([10 + 1e-6, 0.1 + 1e-6, 1.0])
    storage.add(t([[9]]), torch.zeros(1, dtype=torch.long), t([0.0]), t([[9.5]]), torch.tensor([False]))
    assert storage.tree.get(torch.tensor([0])).item() == pytest.approx(10 + 1e-6)  # slot 0 overwritten


def test_prioritized_replay_with_n_steps_returns_nstep_samples_and_weights():
    storage = PrioritizedReplay(OBS, ACT, 2, 16, n_step=3, gamma=0.5)
    _fill(storage)
    batch = storage.sample(100, torch.Generator().manual_seed(0))
    assert batch.weights is not None and batch.indices is not None
    _check_expected(batch)


# ----- Dict observations ----------------------------------------------------------------------
DICT_OBS = gym.spaces.Dict({"pos": gym.spaces.Box(-1, 1, (2,), dtype=np.float32),
                            "img": gym.spaces.Box(0, 255, (1, 3, 3), dtype=np.uint8)})


def _dict_obs(ids):
    ids = torch.as_tensor(ids, dtype=torch.float32)
    return {"pos": torch.stack([ids, -ids], 1),
            "img": ids.to(torch.uint8)[:, None, None, None].expand(-1, 1, 3, 3).clone()}


@pytest.mark.parametrize("cls", [ReplayStorage, NStepReplay, PrioritizedReplay])
def test_replay_storages_round_trip_dict_observations(cls):
    storage = cls(DICT_OBS, ACT, 2, 8)
    assert storage.obs["img"].dtype == torch.uint8 and storage.obs["pos"].shape == (8, 2)
    for s in range(3):
        ids = [10 * s, 10 * s + 1]
        nxt = _dict_obs([i + 100 for i in ids])
        storage.add(_dict_obs(ids), torch.tensor([0, 1]), t([0, 0]), nxt, torch.tensor([True, True]))
    b = storage.sample(32, torch.Generator().manual_seed(0))
    assert set(b.obs) == {"pos", "img"} and b.obs["img"].shape == (32, 1, 3, 3)
    ids = b.obs["pos"][:, 0]
    torch.testing.assert_close(b.obs["pos"][:, 1], -ids)
    torch.testing.assert_close(b.obs["img"][:, 0, 0, 0].float(), ids)
    torch.testing.assert_close(b.next_obs["pos"][:, 0], ids + 100)
    torch.testing.assert_close(b.next_obs["img"][:, 0, 1, 1].float(), ids + 100)
    torch.testing.assert_close(b.actions.float(), ids % 2)


def test_rollout_storage_round_trips_dict_observations():
    storage = RolloutStorage(DICT_OBS, ACT, 3, 4)
    for s in range(4):
        ids = [10 * s + e for e in range(3)]
        storage.add(_dict_obs(ids), torch.tensor([e % 2 for e in range(3)]), t([0] * 3), t(ids),
                    t([0] * 3), t([0] * 3))
    storage.finish(torch.zeros(3), 0.9, 0.9)
    seen = []
    for b in storage.batches(5, torch.Generator().manual_seed(0)):
        ids = b.obs["pos"][:, 0]
        torch.testing.assert_close(b.values, ids)
        torch.testing.assert_close(b.obs["img"][:, 0, 2, 2].float(), ids)
        seen += ids.long().tolist()
    assert sorted(seen) == sorted(10 * s + e for s in range(4) for e in range(3))


# ----- off-policy agents with these storages --------------------------------------------------
def _dqn(storage, **kwargs):
    cfg = dict(buffer_size=2000, learning_starts=64, batch_size=32, train_freq=16, gradient_steps=4,
               hidden=(32,))
    agent = make_agent("dqn", "CartPole-v1", cfg, seed=0, num_envs=2, storage=storage, **kwargs)
    agent.build()
    agent.reset_env()
    agent.total_steps = 400
    return agent


def test_dqn_with_prioritized_replay_trains_and_updates_priorities():
    agent = _dqn("prioritized_replay")
    assert agent.storage.progress is not None and agent.storage.gamma == agent.config.gamma
    while agent.global_step < 400:
        _, metrics = agent.iterate()
    assert np.isfinite(metrics["loss"])
    leaves = agent.storage.tree.get(torch.arange(len(agent.storage)))
    assert leaves.unique().numel() > 10, "priorities should come from TD errors, not stay at max"
    assert agent.storage.beta > agent.storage.beta0
    agent.env.close()


def test_dqn_with_nstep_replay_uses_the_per_sample_discounts(monkeypatch):
    agent = _dqn("nstep_replay", storage_kwargs=dict(n_step=3))
    assert agent.storage.n_step == 3 and agent.storage.gamma == agent.config.gamma
    gammas = []

    def spy(rewards, dones, next_values, gamma):
        gammas.append(gamma)
        return td_target(rewards, dones, next_values, gamma)

    monkeypatch.setattr("rlcore.agents.dqn.td_target", spy)
    while agent.global_step < 300:
        agent.iterate()
    assert gammas and all(isinstance(g, torch.Tensor) and g.shape == (32,) for g in gammas)
    values = torch.cat(gammas)
    assert torch.isclose(values, torch.tensor(0.99 ** 3)).any()
    assert ((values > 0.99 ** 3 - 1e-6) & (values < 0.99 + 1e-6)).all()
    agent.env.close()


def _zero_weight_sampler(agent):
    real = agent.storage.sample

    def sample(batch_size, generator=None):
        batch = real(batch_size, generator)
        batch.weights = torch.zeros(batch_size)
        return batch

    agent.storage.sample = sample


@pytest.mark.parametrize("algo,env", [("dqn", "CartPole-v1"), ("td3", "Pendulum-v1"), ("sac", "Pendulum-v1")])
def test_importance_weights_scale_the_critic_loss(algo, env):
    cfg = dict(buffer_size=500, learning_starts=32, batch_size=16, hidden=(16,))
    agent = make_agent(algo, env, cfg, seed=0, num_envs=1, storage="prioritized_replay")
    agent.build()
    agent.reset_env()
    offpolicy.collect_transitions(agent, 40)
    _zero_weight_sampler(agent)  # every sample weighs 0: the critic must not move
    critic = agent.q if algo == "dqn" else agent.policy.critics
    before = [p.detach().clone() for p in critic.parameters()]
    agent.update(1) if algo == "dqn" else agent.update()
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters()))
    leaves = agent.storage.tree.get(torch.arange(len(agent.storage)))
    assert (leaves != 1.0).any(), "the update must report TD errors to the storage"
    agent.env.close()
