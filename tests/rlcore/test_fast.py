"""The fused update kernels (rlcore.fast) against autograd, and the choice of update path."""

from __future__ import annotations

import shutil

import pytest
import torch

from rlcore import fast, make_agent
from rlcore.fast.paths import FusedSACLearner, FusedTD3Learner
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
    eager.use_eager()
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
    assert fused.update_path == "fused" and isinstance(fused.learner, (FusedTD3Learner, FusedSACLearner))
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
    assert dqn.update_path.startswith("eager (dqn has no fused kernel")
    rnd = make_agent("ppo", "CartPole-v1", reward="rnd").build()
    assert "intrinsic reward" in rnd.update_path
    aug = make_agent("ppo", "CartPole-v1", augmentation="gaussian_noise").build()
    assert "augmentation" in aug.update_path
    shared = make_agent("ppo", "CartPole-v1", policy="actor_critic").build()
    assert shared.update_path.startswith("eager (fused kernels do not cover")
    per = make_agent("sac", "Pendulum-v1", storage="prioritized_replay").build()
    assert "PrioritizedReplay" in per.update_path


def test_disabled_or_uncompilable_kernels_fall_back_to_eager(monkeypatch, tmp_path):
    monkeypatch.setattr(fast.lib, "_state", {})
    monkeypatch.setenv("RLCORE_FUSED", "0")
    agent = make_agent("td3", "Pendulum-v1", dict(hidden=(8, 8))).build()
    assert agent.update_path == "eager (disabled by RLCORE_FUSED=0)"
    monkeypatch.setattr(fast.lib, "_state", {})
    monkeypatch.delenv("RLCORE_FUSED")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached: it must compile
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    agent = make_agent("td3", "Pendulum-v1", dict(hidden=(8, 8), learning_starts=10)).build()
    assert "could not be built" in agent.update_path
    agent.train(40, out=tmp_path / "run", eval_episodes=0, progress=False, tensorboard=False)
    assert agent.global_step == 40
    monkeypatch.setattr(fast.lib, "_state", {})  # later tests load the real library again


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
    old = fused.learner
    _updates((fused, eager), 3)
    assert fused.learner is not old and fused.update_path == "fused"
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
    actions = agent.learner.kernel.act(obs, 0)
    p1 = torch.sigmoid(torch.tensor(1.0)).item()  # 0.731
    assert actions.float().mean().item() == pytest.approx(p1, abs=4 * (p1 * (1 - p1) / 4000) ** 0.5)
    torch.testing.assert_close(agent.storage.log_probs[0],
                               torch.where(actions == 1, torch.tensor(p1).log(), torch.tensor(1 - p1).log()))


# ----- collection loops in C over C-stepped envs ------------------------------------------------
def _torch_backend_rollout(env_id, cfg, mode, num_envs=4):
    """One PPO rollout on a torch-native env: "loop" (the whole rollout in one compiled call),
    "act" (fused acting per step from Python, tensor env) or "eager"."""
    agent = make_agent("ppo", env_id, cfg, seed=3, num_envs=num_envs, backend="torch").build()
    inner = agent.env.env if cfg.get("normalize_obs") else agent.env
    if mode != "loop":
        inner.native.lib = None
    if mode == "eager":
        agent.use_eager()
    agent.reset_env()
    torch.manual_seed(5)
    for _ in range(2):
        agent.collector.collect(agent.storage.size)
    return agent


ROLLOUT_FIELDS = ("obs", "actions", "log_probs", "values", "rewards", "dones", "advantages", "returns")


@needs_cc
@pytest.mark.parametrize("env_id,cfg", [("Pendulum-v1", dict(n_steps=260, normalize_obs=True)),
                                        ("CartPole-v1", dict(n_steps=150))])
def test_compiled_rollout_collects_what_python_acting_collects(env_id, cfg):
    """Two rollouts (Pendulum crosses its 200-step time limit, so truncations bootstrap;
    CartPole terminates often): the loop in C stores exactly what per-step acting stores."""
    loop, act = (_torch_backend_rollout(env_id, cfg, mode) for mode in ("loop", "act"))
    assert loop.update_path == "fused" and fast.native_chain(loop.env) is not None
    assert fast.native_chain(act.env) is None
    for name in ROLLOUT_FIELDS:
        torch.testing.assert_close(getattr(loop.storage, name), getattr(act.storage, name), atol=1e-6, rtol=1e-6,
                                   msg=lambda m, n=name: f"{n}: {m}")
    assert float(loop.storage.dones.sum()) > 0
    torch.testing.assert_close(loop.obs, act.obs)
    assert loop.global_step == act.global_step == 2 * cfg["n_steps"] * 4
    if cfg.get("normalize_obs"):
        torch.testing.assert_close(loop.env.rms.mean, act.env.rms.mean, rtol=1e-9, atol=1e-12)
        assert loop.env.rms.count == act.env.rms.count
    assert loop.env.pop_episodes() == act.env.pop_episodes() != []


@needs_cc
def test_compiled_gaussian_rollout_follows_the_eager_rollout():
    """Against eager PyTorch the only differences are float rounding (e.g. in tanh)."""
    cfg = dict(n_steps=260, normalize_obs=True)
    loop, eager = (_torch_backend_rollout("Pendulum-v1", cfg, mode) for mode in ("loop", "eager"))
    for name in ROLLOUT_FIELDS:
        torch.testing.assert_close(getattr(loop.storage, name), getattr(eager.storage, name), atol=1e-4,
                                   rtol=1e-4, msg=lambda m, n=name: f"{n}: {m}")


@needs_cc
@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_compiled_exploration_steps_store_what_eager_exploration_stores(algo):
    def run(compiled):
        agent = make_agent(algo, "Pendulum-v1", dict(hidden=(32, 32), batch_size=32, learning_starts=50),
                           seed=2, backend="torch").build()
        if not compiled:
            agent.use_eager()
        agent.reset_env()
        torch.manual_seed(7)
        agent.collector.collect(50)  # random warm-up actions, eager in both
        agent.collector.collect(170)  # past a 200-step time limit
        for _ in range(30):
            agent.collector.collect(1)
        return agent

    loop, eager = run(True), run(False)
    assert fast.native_chain(loop.env) is not None and loop.learner.kernel.sigma is not None
    st, ref = loop.storage, eager.storage
    assert (st.pos, st.count, st.total) == (ref.pos, ref.count, ref.total) == (250, 250, 250)
    for name in ("obs", "next_obs", "actions", "rewards", "dones", "ends"):
        torch.testing.assert_close(getattr(st, name), getattr(ref, name), atol=1e-4, rtol=1e-4,
                                   msg=lambda m, n=name: f"{n}: {m}")
    assert bool(st.ends[:250].any()) and not bool(st.dones.any())  # truncated, never terminated
    assert loop.global_step == eager.global_step == 250
    torch.testing.assert_close(loop.obs, eager.obs, atol=1e-4, rtol=1e-4)
    assert [r for r, _ in loop.env.pop_episodes()] == pytest.approx([r for r, _ in eager.env.pop_episodes()],
                                                                    abs=1e-2)


@needs_cc
def test_compiled_gae_matches_the_tensor_recursion():
    from types import SimpleNamespace

    from rlcore.fast.paths import compiled_finish
    from rlcore.returns import gae

    g = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(50, 6, generator=g), torch.randn(50, 6, generator=g)
    dones = (torch.rand(50, 6, generator=g) < 0.1).float()
    last = torch.randn(6, generator=g)
    st = SimpleNamespace(rewards=rewards, values=values, dones=dones, size=50, num_envs=6, step=50)
    compiled_finish(st, last, 0.97, 0.9)
    ref_adv, ref_ret = gae(*(t.double() for t in (rewards, values, dones, last)), 0.97, 0.9)  # tensor code
    torch.testing.assert_close(st.advantages.double(), ref_adv, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(st.returns.double(), ref_ret, atol=1e-5, rtol=1e-5)
    assert st.step == 0


@needs_cc
def test_compiled_observation_normalisation_matches_the_tensor_code():
    from rlcore.envs import make_env

    envs = [make_env("Pendulum-v1", num_envs=5, seed=1, normalize_obs=True) for _ in range(2)]
    envs[1].norm_ctx = lambda: None  # the tensor path
    for env in envs:
        env.reset(seed=1)
    for step in range(240):
        action = torch.full((5, 1), 1.5 * (-1) ** (step // 7))
        a, b = (env.step(action) for env in envs)
        torch.testing.assert_close(a.obs, b.obs, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(a.next_obs, b.next_obs, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(envs[0].rms.var, envs[1].rms.var, rtol=1e-9, atol=1e-12)
    assert envs[0].rms.count == envs[1].rms.count == pytest.approx(1e-4 + 5 * 241)  # reset + steps
