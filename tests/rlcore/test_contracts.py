"""Contract tests over every registered part of every kind.

Cases are parametrized from ``rlcore.registry.keys(kind)``, so a newly registered part is
checked without editing this file. Kinds with no parts yet (augmentations, rewards) run zero
cases until something is registered.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rlcore import make_agent, registry
from rlcore.errors import RLCoreError
from rlcore.returns import gae
from rlcore.types import ReplayBatch, RolloutBatch

torch.set_num_threads(1)

B = 5
OBS_SPACES = {  # candidate observation spaces; a part may refuse some with an RLCoreError
    "vector": gym.spaces.Box(-1.0, 1.0, (5,), dtype=np.float32),
    "matrix": gym.spaces.Box(-1.0, 1.0, (2, 3), dtype=np.float32),
    "image": gym.spaces.Box(0, 255, (3, 16, 16), dtype=np.uint8),
}
ACTION_SPACES = {
    gym.spaces.Discrete: gym.spaces.Discrete(3),
    gym.spaces.Box: gym.spaces.Box(-2.0, 2.0, (2,), dtype=np.float32),
    gym.spaces.MultiDiscrete: gym.spaces.MultiDiscrete([3, 4, 2]),
    gym.spaces.MultiBinary: gym.spaces.MultiBinary(4),
}
INT_SPACES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
ENV_FOR_SPACE = {gym.spaces.Discrete: "CartPole-v1", gym.spaces.Box: "Pendulum-v1",
                 gym.spaces.MultiDiscrete: "rlcore.envs.toy:DigitMatch-v0",
                 gym.spaces.MultiBinary: "rlcore.envs.toy:BitMatch-v0"}
SPACE_IDS = {gym.spaces.Discrete: "discrete", gym.spaces.Box: "box",
             gym.spaces.MultiDiscrete: "multidiscrete", gym.spaces.MultiBinary: "multibinary"}


def sample_obs(space: gym.Space, n: int = B) -> torch.Tensor:
    if space.dtype == np.uint8:
        return torch.randint(0, 256, (n, *space.shape), dtype=torch.uint8)
    return torch.rand(n, *space.shape) * 2 - 1


def sample_actions(space: gym.Space, n: int = B) -> torch.Tensor:
    if isinstance(space, gym.spaces.Discrete):
        return torch.randint(0, int(space.n), (n,))
    if isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        return torch.as_tensor(np.stack([space.sample() for _ in range(n)]), dtype=torch.int64)
    return torch.rand(n, *space.shape) * 2 - 1


def params(kind: str, where=lambda cls: True):
    return [pytest.param(k, id=k) for k in registry.keys(kind) if where(registry.get(kind, k))]


class FakeVecEnv:
    """Only the attributes an agent reads before it steps: spaces, id and batch size."""

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_envs: int = 2):
        self.env_id = "Fake-v0"
        self.num_envs = num_envs
        self.device = torch.device("cpu")
        self.single_observation_space = obs_space
        self.single_action_space = act_space


# ----- encoders -------------------------------------------------------------------------------
@pytest.mark.parametrize("key", params("encoders"))
def test_encoder_contract(key):
    cls = registry.get("encoders", key)
    accepted = 0
    for name, space in OBS_SPACES.items():
        try:
            enc = cls(space)
        except RLCoreError:
            continue
        accepted += 1
        assert isinstance(enc, nn.Module)
        assert isinstance(enc.out_dim, int) and enc.out_dim > 0, name
        out = enc(sample_obs(space))
        assert out.shape == (B, enc.out_dim), name
        assert out.is_floating_point() and torch.isfinite(out).all(), name
    assert accepted, f"encoder {key!r} accepted none of the Box spaces {list(OBS_SPACES)}"


# ----- distributions --------------------------------------------------------------------------
def _dist_spaces(cls):
    spaces = [s for t, s in ACTION_SPACES.items() if issubclass(t, tuple(cls.spaces))]
    assert spaces, f"{cls.__name__}.spaces names no space this test knows: {cls.spaces}"
    return spaces


@pytest.mark.parametrize("key", params("distributions"))
def test_distribution_contract(key):
    cls = registry.get("distributions", key)
    for space in _dist_spaces(cls):
        head = cls(space)
        assert isinstance(head, nn.Module) and head.num_params > 0
        raw = torch.randn(B, head.num_params) * 3
        dist = head(raw)
        a = dist.sample()
        if isinstance(space, gym.spaces.Discrete):
            assert a.shape == (B,) and not a.is_floating_point()
            assert ((a >= 0) & (a < space.n)).all()
        elif isinstance(space, INT_SPACES):  # indices from 0; agents add MultiDiscrete's start
            assert a.shape == (B, *space.shape) and a.dtype == torch.int64
            assert all(space.contains(row.numpy().astype(space.dtype)) for row in a)
        else:
            assert a.shape == (B, *space.shape) and a.dtype == torch.float32
            if cls.squashed:
                assert (a.abs() <= 1.0).all(), "squashed samples must lie in [-1, 1]"
        mode = dist.mode
        assert mode.shape == a.shape
        assert torch.equal(mode, head(raw).mode), "mode must be deterministic"
        if cls.squashed:
            assert (mode.abs() <= 1.0).all()
        if cls.has_log_prob:
            assert dist.log_prob(a).shape == (B,)
            assert torch.isfinite(dist.log_prob(a)).all()
            assert dist.entropy().shape == (B,)


@pytest.mark.parametrize("key", params("distributions", lambda c: c.squashed and c.has_log_prob))
def test_squashed_distribution_rsample_carries_gradients(key):
    cls = registry.get("distributions", key)
    for space in _dist_spaces(cls):
        head = cls(space)
        raw = torch.randn(B, head.num_params, requires_grad=True)
        a, logp = head(raw).rsample_log_prob()
        assert a.shape == (B, *space.shape) and logp.shape == (B,)
        assert (a.abs() <= 1.0).all()
        (a.sum() + logp.sum()).backward()
        assert raw.grad is not None and raw.grad.abs().sum() > 0
        # log_prob of a sampled action agrees with the log-prob returned alongside it
        dist = head(torch.randn(256, head.num_params) * 0.5)
        a, logp = dist.rsample_log_prob()
        inside = (a.abs() < 0.99).reshape(256, -1).all(1)  # away from float32 tanh saturation
        torch.testing.assert_close(dist.log_prob(a)[inside], logp[inside], rtol=1e-3, atol=1e-3)


# ----- policies -------------------------------------------------------------------------------
def _agents_of_family(family: str) -> list[type]:
    return [registry.get("agents", k) for k in registry.keys("agents")
            if registry.get("agents", k).policy_family == family]


def _check_policy_outputs(policy, family: str, obs: torch.Tensor, act_space: gym.Space) -> None:
    act_shape = (B,) if isinstance(act_space, gym.spaces.Discrete) else (B, *act_space.shape)
    if family in ("actor_critic", "ppg", "daac"):
        dist, value = policy(obs)
        assert value.shape == (B,) and policy.value(obs).shape == (B,)
        assert dist.sample().shape == act_shape
        assert policy.distribution(obs).mode.shape == act_shape
        if family == "ppg":
            dist, aux, value = policy.aux_forward(obs)
            assert aux.shape == value.shape == (B,) and dist.sample().shape == act_shape
        if family == "daac":
            a = dist.sample()
            dist, adv = policy.policy_and_advantage(obs, a)
            assert adv.shape == (B,) and dist.log_prob(a).shape == (B,)
            actor, critic = set(map(id, policy.actor_params())), set(map(id, policy.critic_params()))
            assert actor and critic and not actor & critic and actor | critic == set(map(id, policy.parameters()))
    elif family == "q_network":
        assert policy(obs).shape == (B, act_space.n)
    elif family in ("deterministic_twin", "stochastic_twin"):
        a = policy.distribution(obs).sample()
        assert a.shape == act_shape
        qs = policy.q_values(obs, a)
        assert len(qs) >= 1 and all(q.shape == (B,) for q in qs)
        actor, critic = set(map(id, policy.actor_params())), set(map(id, policy.critic_params()))
        assert actor and critic and not actor & critic
    else:
        pytest.fail(f"policy family {family!r} has no contract case; add one to this test")


@pytest.mark.parametrize("key", params("policies"))
def test_policy_contract(key):
    cls = registry.get("policies", key)
    agents = _agents_of_family(cls.family)
    assert agents, f"no registered agent uses policy family {cls.family!r}"
    obs_space = OBS_SPACES["vector"]
    for agent_cls in agents:
        for space_type in agent_cls.action_spaces:
            act_space = ACTION_SPACES[space_type]
            agent = agent_cls(FakeVecEnv(obs_space, act_space))
            agent.set(policy=key)  # fits its own family
            dist = None
            if "distribution" in agent.slots:
                dist = agent.make_part("distribution", act_space)
            make_encoder = lambda: registry.get("encoders", "mlp")(obs_space, hidden=(16,))  # noqa: E731
            policy = agent.make_part("policy", obs_space, act_space, make_encoder, dist)
            assert isinstance(policy, nn.Module)
            _check_policy_outputs(policy, cls.family, sample_obs(obs_space), act_space)


# ----- storages -------------------------------------------------------------------------------
def _fill_on_policy(storage, size: int, n: int, act_space):
    """Obs of step t, env e is filled with 10 t + e so every row can be traced back."""
    g = torch.Generator().manual_seed(0)
    data = {k: torch.randn(size, n, generator=g) for k in ("log_probs", "values", "rewards")}
    data["dones"] = (torch.rand(size, n, generator=g) < 0.3).float()
    actions = torch.stack([sample_actions(act_space, n) for _ in range(size)])
    for step in range(size):
        obs = (10 * step + torch.arange(n, dtype=torch.float32))[:, None].expand(n, 5)
        storage.add(obs, actions[step], data["log_probs"][step], data["values"][step],
                    data["rewards"][step], data["dones"][step])
    return data, actions


@pytest.mark.parametrize("key", params("storages"))
@pytest.mark.parametrize("space_type", list(SPACE_IDS), ids=list(SPACE_IDS.values()))
def test_storage_contract(key, space_type):
    cls = registry.get("storages", key)
    act_space = ACTION_SPACES[space_type]
    if cls.kind == "on_policy":
        _check_on_policy(cls, act_space)
    elif cls.kind == "off_policy":
        _check_off_policy(cls, act_space)
    else:
        pytest.fail(f"storage kind {cls.kind!r} has no contract case; add one to this test")


def _check_on_policy(cls, act_space):
    size, n = 4, 3
    storage = cls(OBS_SPACES["vector"], act_space, n, size, "cpu")
    data, actions = _fill_on_policy(storage, size, n, act_space)
    last = torch.tensor([0.5, -1.0, 2.0])
    storage.finish(last, 0.9, 0.8)
    adv, ret = gae(data["rewards"], data["values"], data["dones"], last, 0.9, 0.8)
    batches = list(storage.batches(5, torch.Generator().manual_seed(1)))
    assert all(isinstance(b, RolloutBatch) for b in batches)
    assert [len(b.obs) for b in batches] == [5, 5, 2]
    ids = torch.cat([b.obs[:, 0] for b in batches]).long()
    assert sorted(ids.tolist()) == sorted(10 * s + e for s in range(size) for e in range(n))
    for b in batches:
        step, env = b.obs[:, 0].long() // 10, b.obs[:, 0].long() % 10
        assert b.actions.shape == (len(b.obs), *act_space.shape)
        torch.testing.assert_close(b.actions.to(actions.dtype), actions[step, env])
        torch.testing.assert_close(b.log_probs, data["log_probs"][step, env])
        torch.testing.assert_close(b.values, data["values"][step, env])
        torch.testing.assert_close(b.advantages, adv[step, env])
        torch.testing.assert_close(b.returns, ret[step, env])
    # a second rollout can be collected after finish()
    _fill_on_policy(storage, size, n, act_space)


def _check_off_policy(cls, act_space):
    capacity, n = 5, 2
    storage = cls(OBS_SPACES["vector"], act_space, n, capacity, "cpu")
    for step in range(3):  # 6 transitions into 5 slots: the oldest one is overwritten
        ids = torch.arange(n, dtype=torch.float32) + n * step
        obs = ids[:, None].expand(n, 5)
        storage.add(obs, sample_actions(act_space, n), ids, obs + 0.5, ids % 2 == 1)
        assert len(storage) == min(n * (step + 1), capacity)
    batch = storage.sample(256, torch.Generator().manual_seed(0))
    assert isinstance(batch, ReplayBatch)
    assert batch.obs.shape == (256, 5) and batch.next_obs.shape == (256, 5)
    assert batch.actions.shape == (256, *act_space.shape)
    assert batch.rewards.shape == (256,) and batch.dones.shape == (256,)
    assert batch.dones.is_floating_point()
    seen = batch.obs[:, 0].long()
    assert set(seen.tolist()) == {1, 2, 3, 4, 5}, "the oldest transition must be overwritten"
    torch.testing.assert_close(batch.dones, (seen % 2).float())
    if batch.weights is not None:
        assert batch.weights.shape == (256,) and (batch.weights > 0).all() and (batch.weights <= 1).all()
    if batch.discounts is None:  # one-step storages return the raw transition
        torch.testing.assert_close(batch.next_obs, batch.obs + 0.5)
        torch.testing.assert_close(batch.rewards, seen.float())
        return
    # multi-step storages: terminal transitions (odd ids) stop after one step; the others
    # may continue along the same env (ids 2 apart) up to the newest transition
    assert batch.discounts.shape == (256,)
    assert ((batch.discounts > 0) & (batch.discounts <= 1)).all()
    done = batch.dones.bool()
    torch.testing.assert_close(batch.next_obs[done], batch.obs[done] + 0.5)
    torch.testing.assert_close(batch.rewards[done], seen[done].float())
    last = batch.next_obs[:, 0] - 0.5
    assert ((last >= batch.obs[:, 0]) & ((last - batch.obs[:, 0]) % n == 0)).all()


# ----- agents ---------------------------------------------------------------------------------
def _small_config(cls) -> dict:
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    return {k: v for k, v in {"buffer_size": 1000, "n_steps": 8, "batch_size": 16}.items() if k in fields}


def _agent_cases():
    cases = []
    for key in registry.keys("agents"):
        for space_type in registry.get("agents", key).action_spaces:
            name = SPACE_IDS[space_type]
            cases.append(pytest.param(key, space_type, id=f"{key}-{name}"))
    return cases


@pytest.mark.parametrize("key,space_type", _agent_cases())
def test_agent_builds_and_acts_on_a_supported_env(key, space_type):
    cls = registry.get("agents", key)
    agent = make_agent(key, ENV_FOR_SPACE[space_type], _small_config(cls), seed=0, num_envs=2)
    agent.build()
    try:
        obs = agent.env.reset(seed=0)
        actions = agent.act(obs)
        assert actions.shape[0] == 2
        for a in actions.cpu().numpy():
            assert agent.action_space.contains(a.astype(agent.action_space.dtype)), a
    finally:
        agent.env.close()


def _missing_spaces(cls) -> list[type]:
    return [t for t in ACTION_SPACES if t not in cls.action_spaces]


@pytest.mark.parametrize("key", params("agents", _missing_spaces))
def test_agent_refuses_an_unsupported_action_space(key):
    missing = _missing_spaces(registry.get("agents", key))
    with pytest.raises(RLCoreError, match=ENV_FOR_SPACE[missing[0]]):
        make_agent(key, ENV_FOR_SPACE[missing[0]])


def _fake_agent(key):
    cls = registry.get("agents", key)
    return cls(FakeVecEnv(OBS_SPACES["vector"], ACTION_SPACES[cls.action_spaces[0]]))


@pytest.mark.parametrize("key", params("agents"))
def test_agent_set_refuses_parts_that_do_not_fit(key):
    agent = _fake_agent(key)
    refused = 0
    for role in agent.slots:
        accepted = agent.accepted(role)
        current = agent.parts[role]
        assert current is None or current in accepted, f"default {role} {current!r} does not fit"
        for bad in (k for k in registry.keys(registry.ROLES[role]) if k not in accepted):
            with pytest.raises(RLCoreError) as err:
                agent.set(**{role: bad})
            msg = str(err.value)
            assert bad in msg and all(k in msg for k in accepted), msg
            assert "\n" not in msg
            assert agent.parts[role] == current
            refused += 1
        for good in accepted:
            agent.set(**{role: good})
            assert agent.parts[role] == good
        agent.set(**{role: current})
    assert refused, "every agent should refuse at least one registered part (another policy family)"


@pytest.mark.parametrize("key", params("agents"))
def test_agent_set_refuses_unknown_and_unslotted_roles(key):
    agent = _fake_agent(key)
    with pytest.raises(RLCoreError, match="'widget'.*encoder"):
        agent.set(widget="mlp")
    for role in registry.ROLES:
        if role not in agent.slots:
            with pytest.raises(RLCoreError, match=f"no '{role}' slot"):
                agent.set(**{role: "anything"})
            with pytest.raises(RLCoreError, match=f"no '{role}' slot"):
                agent.set(**{f"{role}_kwargs": {"scale": 2.0}})  # never silently ignored
    with pytest.raises(RLCoreError, match="not-a-key"):
        agent.set(encoder="not-a-key")


@pytest.mark.parametrize("key", params("agents"))
def test_agent_modules_has_exactly_the_six_roles(key):
    agent = _fake_agent(key)
    modules = agent.modules()
    assert list(modules) == list(registry.ROLES) and len(modules) == 6
    for role, value in modules.items():
        if role in agent.slots:
            assert value == agent.parts[role]
            if value is not None:
                assert value in registry.keys(registry.ROLES[role])
        else:
            assert value is None


# ----- augmentations (contract in rlcore/augment/__init__.py) --------------------------------
@pytest.mark.parametrize("key", params("augmentations"))
def test_augmentation_contract(key):
    aug = registry.get("augmentations", key)()
    assert isinstance(aug, nn.Module)
    accepted = 0
    for name in ("image", "vector"):
        space = OBS_SPACES[name]
        x = sample_obs(space).float()
        try:
            y = aug(x)
        except RLCoreError:
            continue
        accepted += 1
        assert y.shape == x.shape, name
        assert torch.isfinite(y).all(), name
    assert accepted, f"augmentation {key!r} accepted neither an image nor a vector batch"


# ----- intrinsic rewards (contract in rlcore/rewards/__init__.py) ----------------------------
@pytest.mark.parametrize("key", params("rewards"))
@pytest.mark.parametrize("space_type", [gym.spaces.Discrete, gym.spaces.Box], ids=["discrete", "box"])
def test_intrinsic_reward_contract(key, space_type):
    obs_space, act_space = OBS_SPACES["vector"], ACTION_SPACES[space_type]
    reward = registry.get("rewards", key)(obs_space, act_space, torch.device("cpu"))
    obs, actions, next_obs = sample_obs(obs_space), sample_actions(act_space), sample_obs(obs_space)
    r = reward.compute(obs, actions, next_obs)
    assert r.shape == (B,) and r.is_floating_point() and torch.isfinite(r).all()
    batch = ReplayBatch(obs, actions, torch.zeros(B), next_obs, torch.zeros(B))
    metrics = reward.update(batch)
    assert isinstance(metrics, dict)
    assert all(isinstance(k, str) and isinstance(float(v), float) for k, v in metrics.items())
