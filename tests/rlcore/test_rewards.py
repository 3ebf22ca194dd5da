"""Intrinsic rewards: they reach learning in every agent, their networks train, and each
bonus responds to novelty the way its paper says."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcore import make_agent, registry
from rlcore.agents import dqn as dqn_module
from rlcore.agents import sac as sac_module
from rlcore.agents import td3 as td3_module
from rlcore.agents.offpolicy import collect_transitions, sample
from rlcore.agents.onpolicy import collect_rollout
from rlcore.errors import RLCoreError
from rlcore.returns import gae
from rlcore.rewards.counts import SimHash
from rlcore.rewards.episodic import (
    batch_knn_distance,
    elliptical_bonus,
    episode_ids,
    episodic_counts,
    knn_sq_distances,
)
from rlcore.types import ReplayBatch

torch.set_num_threads(1)

KEYS = ["disagreement", "e3b", "icm", "ngu", "pseudo_counts", "re3", "ride", "rnd"]
NETWORK_FREE = {"re3", "pseudo_counts"}  # no trainable networks (random encoder / count table)
VEC = gym.spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
DISCRETE = gym.spaces.Discrete(3)
SMALL = {
    "ppo": dict(n_steps=16, batch_size=32, n_epochs=1),
    "a2c": dict(n_steps=8),
    "dqn": dict(learning_starts=32, train_freq=16, gradient_steps=2, batch_size=32, buffer_size=500, hidden=(32,)),
    "sac": dict(learning_starts=32, batch_size=32, buffer_size=500, hidden=(32, 32)),
    "td3": dict(learning_starts=32, batch_size=32, buffer_size=500, hidden=(32, 32)),
    "ddpg": dict(learning_starts=32, batch_size=32, buffer_size=500, hidden=(32, 32)),
    "drqv2": dict(image_size=16, batch_size=8, hidden=(16,), feature_dim=8, learning_starts=10, buffer_size=200),
}
ENV = {"ppo": "CartPole-v1", "a2c": "CartPole-v1", "dqn": "CartPole-v1", "sac": "Pendulum-v1",
       "td3": "Pendulum-v1", "ddpg": "Pendulum-v1", "drqv2": "Pendulum-v1"}
REWARD_KW = dict(hidden=(32,), latent_dim=16)


def make_reward(key, obs_space=VEC, act_space=DISCRETE, **kwargs):
    torch.manual_seed(0)
    return registry.get("rewards", key)(obs_space, act_space, "cpu", **{**REWARD_KW, **kwargs})


def batch_of(obs, actions, next_obs):
    return ReplayBatch(obs, actions, torch.zeros(len(obs)), next_obs, torch.zeros(len(obs)))


def test_every_reward_is_registered_and_tested():
    assert registry.keys("rewards") == KEYS


# ----- (a) the rewards reach learning -------------------------------------------------------------
def _ppo(reward=None, collect=True):
    """A built PPO agent (seeded build: each agent starts from the same global RNG state)."""
    parts = dict(reward=reward, reward_kwargs=REWARD_KW) if reward else {}
    agent = make_agent("ppo", "CartPole-v1", SMALL["ppo"], seed=3, num_envs=2, **parts)
    agent.build()
    agent.use_eager()  # agents with a reward are eager; the plain one must sample the same way
    agent.reset_env()
    if collect:
        collect_rollout(agent, agent.storage)
    return agent


@pytest.mark.parametrize("key", KEYS)
def test_intrinsic_rewards_change_ppo_advantages_before_gae(key):
    plain, curious = _ppo(), _ppo(key)
    s0, s1 = plain.storage, curious.storage
    assert torch.equal(s0.obs, s1.obs) and torch.equal(s0.actions, s1.actions), "same seed, same rollout"
    intrinsic = s1.rewards - s0.rewards
    assert intrinsic.abs().sum() > 0 and torch.isfinite(intrinsic).all()
    assert not torch.allclose(s0.advantages, s1.advantages)
    # the advantages are GAE over extrinsic + intrinsic rewards, i.e. computed after the addition
    adv, _ = gae(s1.rewards, s1.values, s1.dones, curious.policy.value(curious.obs).detach(), 0.99, 0.95)
    torch.testing.assert_close(s1.advantages, adv)
    metrics = curious.reward_metrics
    assert metrics["intrinsic_reward"] == pytest.approx(intrinsic.mean().item(), rel=1e-4, abs=1e-6)


def _spy_targets(monkeypatch, module):
    seen = []

    def spy(rewards, dones, next_values, gamma):
        out = module_td_target(rewards, dones, next_values, gamma)
        seen.append(out.detach().clone())
        return out

    module_td_target = module.td_target
    monkeypatch.setattr(module, "td_target", spy)
    return seen


def _off_policy(algo, reward=None, kwargs=REWARD_KW):
    parts = dict(reward=reward, reward_kwargs=kwargs) if reward else {}
    agent = make_agent(algo, ENV[algo], SMALL[algo], seed=1, num_envs=2, **parts)
    agent.build()
    agent.reset_env()
    collect_transitions(agent, 32)
    return agent


@pytest.mark.parametrize("key", KEYS)
def test_intrinsic_rewards_change_dqn_td_targets(key, monkeypatch):
    seen = _spy_targets(monkeypatch, dqn_module)
    plain, curious = _off_policy("dqn"), _off_policy("dqn", key)
    for agent in (plain, curious):
        torch.manual_seed(0)
        agent.update(1)
    assert len(seen) == 2
    assert not torch.allclose(seen[0], seen[1]), "intrinsic rewards must move the TD targets"
    assert torch.isfinite(seen[1]).all()
    after = [torch.cat([p.flatten() for p in a.q.parameters()]) for a in (plain, curious)]
    assert not torch.equal(*after), "the Q-network learned from different targets"
    assert "intrinsic_reward" in curious.reward_metrics


@pytest.mark.parametrize("algo,module", [("sac", sac_module), ("td3", td3_module), ("ddpg", td3_module)])
def test_intrinsic_rewards_change_continuous_td_targets(algo, module, monkeypatch):
    seen = _spy_targets(monkeypatch, module)
    plain, curious = _off_policy(algo), _off_policy(algo, "rnd")
    assert curious.update_path.startswith("eager")  # agents with a reward part always take the eager path
    plain.use_eager()  # so the spy on td_target sees both updates
    for agent in (plain, curious):
        torch.manual_seed(0)  # the same actor noise in both updates
        agent.update()
    assert len(seen) == 2 and not torch.allclose(seen[0], seen[1])


def test_sample_adds_intrinsic_rewards_to_the_batch_and_trains_the_reward():
    plain, curious = _off_policy("dqn"), _off_policy("dqn", "rnd")
    before = [p.detach().clone() for p in curious.reward.nets["predictor"].parameters()]
    b0, b1 = sample(plain), sample(curious)
    assert torch.equal(b0.indices, b1.indices) and torch.equal(b0.obs, b1.obs)
    diff = b1.rewards - b0.rewards
    assert (diff > 0).all(), "RND bonuses are positive"
    assert curious.reward_metrics["intrinsic_reward"] == pytest.approx(diff.mean().item(), rel=1e-4)
    assert "rnd_loss" in curious.reward_metrics
    after = list(curious.reward.nets["predictor"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before))


@pytest.mark.parametrize("algo", sorted(SMALL))
def test_every_agent_has_a_reward_slot_and_reports_intrinsic_metrics(algo):
    assert "reward" in registry.get("agents", algo).slots
    agent = make_agent(algo, ENV[algo], SMALL[algo], seed=0, num_envs=2, reward="rnd", reward_kwargs=REWARD_KW,
                       **({"encoder_kwargs": dict(channels=4)} if algo == "drqv2" else {}))
    assert agent.modules()["reward"] == "rnd"
    agent.build()
    agent.reset_env()
    metrics: dict = {}
    for _ in range(40):
        _, metrics = agent.iterate()
        if "intrinsic_reward" in metrics:
            break
    agent.env.close()
    assert "intrinsic_reward" in metrics and "rnd_loss" in metrics, metrics


def test_adding_a_reward_does_not_change_the_agents_own_initialisation():
    plain, curious = _ppo(collect=False), _ppo("rnd", collect=False)
    for a, b in zip(plain.policy.parameters(), curious.policy.parameters()):
        assert torch.equal(a, b)


def test_reward_slot_refuses_unknown_keys_and_bad_kwargs():
    agent = make_agent("ppo", "CartPole-v1", SMALL["ppo"])
    with pytest.raises(RLCoreError, match="'curiosity'.*rnd"):
        agent.set(reward="curiosity")
    with pytest.raises(RLCoreError, match="normalize got 'sometimes'"):
        agent.set(reward="rnd", reward_kwargs=dict(normalize="sometimes")).build()


def test_reward_state_is_checkpointed(tmp_path):
    agent = _ppo("pseudo_counts")
    agent.iterate()
    path = agent.save(tmp_path / "ckpt.pt")
    fresh = _ppo("pseudo_counts", collect=False)
    assert not torch.equal(fresh.reward.counts, agent.reward.counts)
    fresh.load(path)
    assert torch.equal(fresh.reward.counts, agent.reward.counts)
    assert fresh.reward.calls == agent.reward.calls


# ----- (b) the networks train ---------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("act_space", [DISCRETE, gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32),
                                       gym.spaces.MultiDiscrete([2, 3])], ids=["discrete", "box", "multidiscrete"])
def test_update_trains_the_reward_networks(key, act_space):
    reward = make_reward(key, act_space=act_space)
    g = torch.Generator().manual_seed(0)
    obs, next_obs = torch.rand(64, 4, generator=g), torch.rand(64, 4, generator=g)
    actions = torch.as_tensor(np.stack([act_space.sample() for _ in range(64)]))
    before = {k: v.clone() for k, v in reward.nets.state_dict().items()}
    reward.compute(obs, actions, next_obs)
    metrics = {}
    for _ in range(3):
        metrics = reward.update(batch_of(obs, actions, next_obs))
    after = reward.nets.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    if key in NETWORK_FREE:
        assert not changed, "fixed random networks must stay fixed"
    else:
        assert changed and metrics and all(k.startswith(key + "_") for k in metrics)
        trainable = {n for n, p in reward.nets.named_parameters() if p.requires_grad}
        assert trainable <= set(changed)


def test_pseudo_counts_update_counts_visits():
    reward = make_reward("pseudo_counts")
    obs = torch.rand(10, 4)
    reward.update(batch_of(obs, torch.zeros(10, dtype=torch.long), obs))
    assert int(reward.counts.sum()) == 10


# ----- behaviour -----------------------------------------------------------------------------------
def _raw(key, **kw):
    return make_reward(key, normalize="none", beta=1.0, **kw)


def test_rnd_bonus_fades_for_states_it_keeps_seeing():
    reward = _raw("rnd", obs_norm=False, lr=3e-3)
    seen, novel = torch.rand(128, 4) * 0.2, torch.rand(128, 4) * 0.2 + 0.8
    acts = torch.zeros(128, dtype=torch.long)
    first = reward.compute(seen, acts, seen).mean()
    for _ in range(100):
        reward.update(batch_of(seen, acts, seen))
    assert reward.compute(seen, acts, seen).mean() < 0.2 * first
    assert reward.compute(novel, acts, novel).mean() > 3 * reward.compute(seen, acts, seen).mean()


def test_icm_and_disagreement_bonuses_fade_on_learned_transitions():
    g = torch.Generator().manual_seed(1)
    obs = torch.rand(128, 4, generator=g) * 0.2
    acts = torch.randint(0, 3, (128,), generator=g)
    nxt = obs + 0.05 * torch.nn.functional.one_hot(acts, 4).float()
    far = torch.rand(128, 4, generator=g) * 0.2 + 0.8
    for key in ("icm", "disagreement"):
        reward = _raw(key, obs_norm=False, lr=3e-3)
        first = reward.compute(obs, acts, nxt).mean()
        for _ in range(150):
            reward.update(batch_of(obs, acts, nxt))
        trained = reward.compute(obs, acts, nxt).mean()
        assert trained < 0.5 * first, key
        if key == "disagreement":
            assert reward.compute(far, acts, far + 0.05).mean() > 2 * trained


def test_pseudo_counts_bonus_is_lower_for_repeated_states():
    reward = _raw("pseudo_counts")
    unique = torch.linspace(-0.9, 0.9, 8)[:, None].expand(8, 4).contiguous()
    repeated = torch.cat([unique[:4], unique[:1].expand(4, 4)])
    bonus = reward.compute(repeated, torch.zeros(8, dtype=torch.long), repeated)
    assert bonus[4:].max() < bonus[1:4].min(), "a state seen 5 times scores below states seen once"
    torch.testing.assert_close(bonus[0], torch.tensor(5.0).rsqrt())
    before = reward.compute(unique, torch.zeros(8, dtype=torch.long), unique)
    reward.update(batch_of(unique, torch.zeros(8, dtype=torch.long), unique))
    after = reward.compute(unique, torch.zeros(8, dtype=torch.long), unique)
    assert (after < before).all()


@pytest.mark.parametrize("key", ["e3b", "ngu", "ride"])
def test_episodic_bonus_is_lower_for_states_revisited_within_an_episode(key):
    # ngu with max_modulation=1 isolates its episodic part from the life-long one
    reward = _raw(key, obs_norm=False, **({"max_modulation": 1.0} if key == "ngu" else {}))
    g = torch.Generator().manual_seed(0)
    distinct = torch.rand(12, 4, generator=g) * 2 - 1
    looping = torch.cat([distinct[:4]] * 3)  # the same four states, three times
    # three envs side by side, time-major: distinct states, the loop, the loop with an episode end
    nxt = torch.stack([distinct, looping, looping], 1)
    obs = torch.cat([nxt[:1], nxt[:-1]])
    dones = torch.zeros(12, 3, dtype=torch.bool)
    dones[3, 2] = True
    b = reward.compute(obs, torch.zeros(12, 3, dtype=torch.long), nxt, dones=dones)
    new, loop, reset = b.unbind(1)
    assert (loop[5:8] < loop[1:4]).all() and (loop[9:12] < loop[5:8]).all(), loop
    assert loop[4:].mean() < 0.7 * new[4:].mean(), (loop, new)
    torch.testing.assert_close(reset[5:8], loop[1:4])  # after the end, first visits again
    if key == "ride":  # same transitions, divided by sqrt of the episodic visit count
        torch.testing.assert_close(loop[5:8], loop[1:4] / 2 ** 0.5)
        torch.testing.assert_close(loop[9:12], loop[1:4] / 3 ** 0.5)


def test_re3_bonus_reacts_to_novelty_with_a_fixed_encoder():
    reward = _raw("re3", k=2, obs_norm=False)
    crowd = torch.full((9, 4), 0.1) + 0.01 * torch.randn(9, 4)
    batch = torch.cat([crowd, torch.full((1, 4), 0.9)])
    bonus = reward.compute(batch, torch.zeros(10, dtype=torch.long), batch)
    assert bonus[-1] > 3 * bonus[:-1].max(), "the isolated state scores highest"
    assert reward.update(batch_of(batch, torch.zeros(10, dtype=torch.long), batch)) == {}


def test_time_major_inputs_give_time_major_bonuses_and_flat_is_one_sequence():
    reward = _raw("ngu", obs_norm=False)
    obs = torch.rand(6, 3, 4)
    acts = torch.zeros(6, 3, dtype=torch.long)
    out = reward.compute(obs, acts, obs)
    assert out.shape == (6, 3)
    flat = reward.compute(obs[:, 1], acts[:, 1], obs[:, 1])
    assert flat.shape == (6,)
    with pytest.raises(RLCoreError, match=r"obs_shape \(4,\)"):
        reward.compute(torch.rand(6, 5), torch.zeros(6), torch.rand(6, 5))


def test_beta_kappa_and_normalisation_scale_the_bonus():
    obs = torch.rand(32, 4)
    acts = torch.zeros(32, dtype=torch.long)
    raw = make_reward("rnd", normalize="none", beta=1.0).compute(obs, acts, obs)
    half = make_reward("rnd", normalize="none", beta=0.5).compute(obs, acts, obs)
    torch.testing.assert_close(half, 0.5 * raw)
    batch = make_reward("rnd", normalize="batch", beta=1.0).compute(obs, acts, obs)
    torch.testing.assert_close(batch, raw / raw.pow(2).mean().sqrt())
    decaying = make_reward("rnd", beta=1.0, kappa=0.5)
    assert [decaying.coefficient, (decaying.compute(obs, acts, obs), decaying.coefficient)[1]] == [1.0, 0.5]


def test_image_observations_use_the_registered_cnn():
    space = gym.spaces.Box(0, 255, (3, 16, 16), dtype=np.uint8)
    reward = make_reward("rnd", obs_space=space)
    assert type(reward.nets["predictor"][0]).registry_key == "nature_cnn"
    img = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    assert reward.compute(img, torch.zeros(5, dtype=torch.long), img).shape == (5,)
    reward.update(batch_of(img, torch.zeros(5, dtype=torch.long), img))


# ----- pure functions -------------------------------------------------------------------------------
def test_episode_ids_and_episodic_counts_golden():
    dones = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 1]], dtype=torch.bool)
    assert episode_ids(dones).tolist() == [[0, 0], [0, 0], [1, 0], [1, 0]]
    codes = torch.tensor([[7, 1], [7, 1], [7, 2], [7, 1]])
    assert episodic_counts(codes, dones).tolist() == [[1, 1], [2, 2], [1, 1], [2, 3]]


def test_elliptical_bonus_matches_the_explicit_inverse():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(5, 2, 3, generator=g)
    dones = torch.zeros(5, 2, dtype=torch.bool)
    dones[2, 1] = True
    out, _ = elliptical_bonus(emb, dones, ridge=0.5)
    for e in range(2):
        start = 0
        for t in range(5):
            mem = emb[start:t, e]
            cov = 0.5 * torch.eye(3) + mem.T @ mem
            expected = emb[t, e] @ torch.linalg.solve(cov, emb[t, e])
            torch.testing.assert_close(out[t, e], expected, rtol=1e-4, atol=1e-5)
            if dones[t, e]:
                start = t + 1
    first, carried = elliptical_bonus(emb[:3], dones[:3], ridge=0.5)
    second, _ = elliptical_bonus(emb[3:], dones[3:], ridge=0.5, inv=carried)
    torch.testing.assert_close(torch.cat([first, second]), out)  # two batches == one


def test_e3b_carries_each_envs_memory_across_time_major_calls():
    reward = _raw("e3b", obs_norm=False)
    states = torch.rand(4, 2, 4)
    acts = torch.zeros(4, 2, dtype=torch.long)
    fresh = reward.compute(states, acts, states)
    again = reward.compute(states, acts, states)  # the same states, episodes still running
    assert (again < fresh).all()
    flat = reward.compute(states[:, 0], acts[:, 0], states[:, 0])  # flat: empty memory
    torch.testing.assert_close(flat, fresh[:, 0])


def test_knn_distances_match_brute_force():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(6, 2, 3, generator=g)
    dones = torch.zeros(6, 2, dtype=torch.bool)
    dones[1, 0] = True
    d2 = knn_sq_distances(emb, dones, k=2)
    assert torch.isinf(d2[0]).all() and torch.isinf(d2[2, 0]).all()  # empty memories
    mem = emb[2:5, 0]
    expected = (mem - emb[5, 0]).pow(2).sum(-1).sort().values[:2]
    torch.testing.assert_close(d2[5, 0], expected, rtol=1e-4, atol=1e-5)
    points = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    torch.testing.assert_close(batch_knn_distance(points, 1), torch.tensor([1.0, 1.0, 2.0, 7.0]))
    torch.testing.assert_close(batch_knn_distance(points, 2), torch.tensor([3.0, 2.0, 3.0, 9.0]))
    assert batch_knn_distance(points[:1], 3).tolist() == [0.0]


def test_simhash_codes_are_local_and_fixed():
    space = gym.spaces.Box(np.array([-1.2, -0.07], np.float32), np.array([0.6, 0.07], np.float32))
    h = SimHash(space, 16, torch.Generator().manual_seed(0), torch.device("cpu"))
    x = torch.tensor([[-0.5, 0.0], [-0.5, 0.0001], [0.5, 0.06], [-1.1, -0.06]])
    codes = h(x)
    assert codes[0] == codes[1] and len(set(codes[[0, 2, 3]].tolist())) == 3
    assert torch.equal(h(x), codes)
    with pytest.raises(RLCoreError, match="bits must be between 1 and 24"):
        SimHash(space, 40, torch.Generator(), torch.device("cpu"))
