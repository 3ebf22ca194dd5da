"""The fused update kernels (rlcore.fast) against autograd, and the choice of update path."""

from __future__ import annotations

import shutil

import pytest
import torch

from rlcore import fast, make_agent
from rlcore.agents.offpolicy import collect_transitions
from rlcore.agents.onpolicy import collect_rollout

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

OFF_POLICY = {
    "td3": ("td3", dict(hidden=(32, 32), batch_size=64)),
    "td3-3-layers": ("td3", dict(hidden=(16, 24, 16), batch_size=50, policy_delay=3, target_noise=0.3, gamma=0.9)),
    "ddpg": ("ddpg", dict(hidden=(32, 32), batch_size=64, tau=0.05)),
    "sac": ("sac", dict(hidden=(32, 32), batch_size=64)),
    "sac-fixed-alpha": ("sac", dict(hidden=(32, 32), batch_size=40, autotune_alpha=False, init_alpha=0.3)),
}
ON_POLICY = {
    "cartpole": ("CartPole-v1", dict(n_steps=32, batch_size=64, n_epochs=3, hidden=(32, 32))),
    "cartpole-entropy-vclip": ("CartPole-v1", dict(n_steps=25, batch_size=48, n_epochs=2, ent_coef=0.05,
                                                   clip_range_vf=0.2, hidden=(16, 16), activation="relu")),
    "pendulum-obsnorm": ("Pendulum-v1", dict(n_steps=64, batch_size=64, n_epochs=2, normalize_obs=True,
                                             ent_coef=0.01, max_grad_norm=0.1)),
    "pendulum-raw-adv": ("Pendulum-v1", dict(n_steps=40, batch_size=30, n_epochs=2, normalize_advantage=False,
                                             hidden=(8, 8, 8), max_grad_norm=100.0)),
}


def _float_tensors(state, prefix=""):
    if isinstance(state, dict):
        for k, v in state.items():
            yield from _float_tensors(v, f"{prefix}.{k}")
    elif torch.is_tensor(state) and state.is_floating_point():
        yield prefix, state


def assert_same_state(fused, eager, atol=2e-5, rtol=1e-4):
    a, b = dict(_float_tensors(fused.state_dict())), dict(_float_tensors(eager.state_dict()))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=rtol, msg=lambda m, n=name: f"{n}: {m}")


def _pair(build):
    """The same agent twice from the same seed; the second forced onto the eager path."""
    fused, eager = build(), build()
    eager.fast = None
    return fused, eager


def _filled(algo, cfg, seed, steps=300):
    """A built off-policy agent whose replay holds ``steps`` random-action transitions."""
    agent = make_agent(algo, "Pendulum-v1", dict(cfg, learning_starts=10**6), seed=seed).build()
    agent.reset_env()
    torch.manual_seed(0)
    collect_transitions(agent, steps)
    return agent


def _updates(agents, n):
    metrics = []
    for agent in agents:
        torch.manual_seed(123)
        agent.generator.manual_seed(456)
        metrics.append([agent.update() for _ in range(n)])
    return metrics


@needs_cc
@pytest.mark.parametrize("case", list(OFF_POLICY))
def test_off_policy_fused_updates_equal_autograd(case):
    algo, cfg = OFF_POLICY[case]
    fused, eager = _pair(lambda: _filled(algo, cfg, seed=1))
    assert fused.update_path == "fused" and fused.fast is not None
    mf, me = _updates((fused, eager), 12)
    for a, b in zip(mf, me):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), k
    assert_same_state(fused, eager)
    # it learned something: parameters and targets moved
    assert fused.actor_optimizer.state_dict()["state"][0]["step"] > 0


@needs_cc
@pytest.mark.parametrize("case", list(ON_POLICY))
def test_ppo_fused_updates_equal_autograd(case):
    env_id, cfg = ON_POLICY[case]

    def build():
        agent = make_agent("ppo", env_id, cfg, seed=2, num_envs=4).build()
        agent.reset_env()
        torch.manual_seed(0)
        collect_rollout(agent, agent.storage)
        return agent

    fused, eager = _pair(build)
    assert fused.update_path == "fused"
    before = [p.clone() for p in fused.policy.parameters()]
    (mf,), (me,) = _updates((fused, eager), 1)
    for k in me:
        assert mf[k] == pytest.approx(me[k], rel=1e-4, abs=1e-6), k
    assert_same_state(fused, eager)
    assert any(not torch.equal(p, q) for p, q in zip(before, fused.policy.parameters()))


@needs_cc
def test_ppo_fused_path_stops_early_on_target_kl_like_eager():
    cfg = dict(n_steps=64, batch_size=32, n_epochs=8, lr=3e-2, target_kl=1e-4, hidden=(16, 16))

    def build():
        agent = make_agent("ppo", "CartPole-v1", cfg, seed=4, num_envs=2).build()
        agent.reset_env()
        torch.manual_seed(0)
        collect_rollout(agent, agent.storage)
        return agent

    fused, eager = _pair(build)
    steps = []
    for agent in (fused, eager):
        agent.generator.manual_seed(9)
        agent.update()
        steps.append(agent.optimizer.state_dict()["state"][0]["step"].item())
    assert steps[0] == steps[1] < 8 * 4  # stopped before all 32 minibatches, at the same one
    assert_same_state(fused, eager)


@needs_cc
def test_checkpoint_reload_rebinds_the_kernel(tmp_path):
    def build():
        return _filled("td3", dict(hidden=(16, 16), batch_size=32), seed=5, steps=200)

    agent = build()
    _updates([agent], 5)
    path = agent.save(tmp_path / "a.pt")
    loaded = build()
    loaded.load(path)
    assert loaded.update_path == "fused"
    # the loaded agent's kernel must write into the optimizer state it just loaded
    for a in (agent, loaded):
        torch.manual_seed(1)
        a.generator.manual_seed(2)
        for _ in range(4):
            a.update()
    assert_same_state(agent, loaded, atol=0, rtol=0)


def test_agents_without_a_kernel_or_with_extra_parts_use_eager():
    dqn = make_agent("dqn", "CartPole-v1").build()
    assert dqn.fast is None and dqn.update_path.startswith("eager (dqn has no fused kernel")
    rnd = make_agent("ppo", "CartPole-v1", reward="rnd").build()
    assert rnd.fast is None and "intrinsic reward" in rnd.update_path
    aug = make_agent("ppo", "CartPole-v1", augmentation="gaussian_noise").build()
    assert aug.fast is None and "augmentation" in aug.update_path
    shared = make_agent("ppo", "CartPole-v1", policy="actor_critic").build()
    assert shared.fast is None and shared.update_path.startswith("eager (fused kernels do not cover")
    per = make_agent("sac", "Pendulum-v1", storage="prioritized_replay").build()
    assert per.fast is None and "PrioritizedReplay" in per.update_path


def test_disabled_or_uncompilable_kernels_fall_back_to_eager(monkeypatch, tmp_path):
    monkeypatch.setattr(fast, "_state", {})
    monkeypatch.setenv("RLCORE_FUSED", "0")
    agent = make_agent("td3", "Pendulum-v1", dict(hidden=(8, 8))).build()
    assert agent.fast is None and agent.update_path == "eager (disabled by RLCORE_FUSED=0)"
    monkeypatch.setattr(fast, "_state", {})
    monkeypatch.delenv("RLCORE_FUSED")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached: it must compile
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    agent = make_agent("td3", "Pendulum-v1", dict(hidden=(8, 8), learning_starts=10)).build()
    assert agent.fast is None and "could not be built" in agent.update_path
    agent.train(40, out=tmp_path / "run", eval_episodes=0, progress=False, tensorboard=False)
    assert agent.global_step == 40
    monkeypatch.setattr(fast, "_state", {})  # later tests load the real library again


@needs_cc
def test_run_manifest_records_the_update_path(tmp_path):
    agent = make_agent("sac", "Pendulum-v1", dict(hidden=(8, 8), learning_starts=20, batch_size=16))
    manifest = agent.train(60, out=tmp_path, eval_episodes=0, progress=False, tensorboard=False)
    assert manifest["update_path"] == "fused"


@needs_cc
def test_a_replaced_optimizer_state_is_picked_up_not_written_behind_its_back():
    fused, eager = _pair(lambda: _filled("sac", dict(hidden=(16, 16), batch_size=32), seed=6, steps=200))
    _updates((fused, eager), 3)
    for agent in (fused, eager):  # what a user might do by hand: load optimizer state directly
        agent.critic_optimizer.load_state_dict(agent.critic_optimizer.state_dict())
    old = fused.fast
    _updates((fused, eager), 3)
    assert fused.fast is not old and fused.update_path == "fused"
    assert_same_state(fused, eager)


def _rollout_pair(env_id, cfg, num_envs=4):
    def build():
        agent = make_agent("ppo", env_id, cfg, seed=3, num_envs=num_envs).build()
        agent.reset_env()
        torch.manual_seed(5)
        collect_rollout(agent, agent.storage)
        return agent

    return _pair(build)


@needs_cc
def test_fused_gaussian_rollout_equals_the_eager_rollout():
    fused, eager = _rollout_pair("Pendulum-v1", dict(n_steps=64, normalize_obs=True))
    for name in ("obs", "actions", "log_probs", "values", "rewards", "dones", "advantages", "returns"):
        torch.testing.assert_close(getattr(fused.storage, name), getattr(eager.storage, name),
                                   atol=1e-6, rtol=1e-6, msg=lambda m, n=name: f"{n}: {m}")
    assert torch.equal(fused.env.rms.mean, eager.env.rms.mean)


@needs_cc
def test_fused_categorical_rollout_stores_the_policys_own_log_probs_and_values():
    fused, _ = _rollout_pair("CartPole-v1", dict(n_steps=64))
    st = fused.storage
    with torch.no_grad():
        dist, values = fused.policy(st.obs.reshape(-1, 4))
    torch.testing.assert_close(dist.log_prob(st.actions.reshape(-1)), st.log_probs.reshape(-1))
    torch.testing.assert_close(values, st.values.reshape(-1))


@needs_cc
def test_fused_categorical_sampling_follows_the_softmax():
    agent = make_agent("ppo", "CartPole-v1", dict(n_steps=1, batch_size=4000), seed=0, num_envs=4000).build()
    with torch.no_grad():  # make the policy's preference clear: logits (0, 1) for every observation
        agent.policy.actor_head.weight.zero_()
        agent.policy.actor_head.bias.copy_(torch.tensor([0.0, 1.0]))
    obs = torch.zeros(4000, 4)
    torch.manual_seed(0)
    actions = agent.fast.act(obs, 0)
    p1 = torch.sigmoid(torch.tensor(1.0)).item()  # 0.731
    assert actions.float().mean().item() == pytest.approx(p1, abs=4 * (p1 * (1 - p1) / 4000) ** 0.5)
    torch.testing.assert_close(agent.storage.log_probs[0],
                               torch.where(actions == 1, torch.tensor(p1).log(), torch.tensor(1 - p1).log()))
