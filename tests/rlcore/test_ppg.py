"""PPG: an agent file and a policy composed from the shared parts (PPO's learner for the
policy phase, the rollout collector)."""

from __future__ import annotations

import pytest
import torch

from agent_checks import train_save_and_reload
from rlcore import make_agent
from rlcore.agents.ppg import kl_divergence
from rlcore.errors import RLCoreError

SMALL = dict(n_steps=16, batch_size=32, n_policy_iters=2, aux_epochs=2, aux_batch_size=32, hidden=(16, 16))
ALGO = "ppg"


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_smoke_train_save_and_reload(env_id, tmp_path):
    train_save_and_reload(ALGO, env_id, SMALL, tmp_path)


def test_ppg_runs_its_auxiliary_phase_every_n_policy_iters():
    agent = make_agent("ppg", "CartPole-v1", SMALL, seed=0, num_envs=2).build()
    agent.reset_env()
    _, first = agent.iterate()
    assert "aux_kl" not in first and len(agent.learner.obs) == 1
    _, second = agent.iterate()
    assert {"aux_value_loss", "aux_kl", "aux_phase_value_loss"} <= second.keys() and agent.learner.obs == []


def test_ppg_auxiliary_phase_trains_the_aux_head_and_keeps_the_policy_close():
    agent = make_agent("ppg", "CartPole-v1", dict(SMALL, aux_epochs=4, clone_coef=10.0), seed=0,
                       num_envs=2).build()
    agent.reset_env()
    agent.iterate()
    obs = torch.cat(agent.learner.obs)
    with torch.no_grad():
        before = agent.policy.distribution(obs)
        aux_before = agent.policy.aux_head.weight.clone()
    agent.collector.collect(agent.storage.size)
    agent.learner.policy_phase.update = lambda: {}  # isolate the auxiliary phase
    agent.learner.update()
    with torch.no_grad():
        drift = kl_divergence(before, agent.policy.distribution(obs)).mean().item()
    assert not torch.equal(aux_before, agent.policy.aux_head.weight)
    assert drift < 0.05


def test_ppg_refuses_a_distribution_without_a_closed_form_kl():
    with pytest.raises(RLCoreError, match="has no closed-form KL"):
        make_agent("ppg", "Pendulum-v1", distribution="squashed_gaussian")


def test_kl_divergence_golden_values():
    from rlcore.distributions.categorical import CategoricalDist
    from rlcore.distributions.gaussian import NormalDist

    p, q = CategoricalDist(torch.tensor([[0.0, 0.0]])), CategoricalDist(torch.log(torch.tensor([[0.25, 0.75]])))
    # 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75) = 0.5 ln(4/3)
    assert kl_divergence(p, q).item() == pytest.approx(0.5 * torch.log(torch.tensor(4 / 3)).item(), rel=1e-5)
    a = NormalDist(torch.tensor([[0.0]]), torch.tensor([0.0]))
    b = NormalDist(torch.tensor([[1.0]]), torch.log(torch.tensor([2.0])))
    # ln 2 + (1 + 1) / 8 - 1/2
    assert kl_divergence(a, b).item() == pytest.approx(0.693147 + 0.25 - 0.5, rel=1e-5)
    assert kl_divergence(a, a).item() == 0.0


# Threshold from measured runs (60k steps, 8 envs, eval over 10 episodes, evaluation seed 100):
# seeds 0-3 returned 136.8, 191.6, 151.5 and 466.3; a random CartPole policy returns about 22.
@pytest.mark.slow
def test_learns_cartpole(tmp_path):
    torch.set_num_threads(1)
    cfg = dict(n_steps=32, batch_size=256, gamma=0.98, gae_lambda=0.8, lr=1e-3, lr_schedule="linear", n_epochs=10,
               n_policy_iters=16, aux_epochs=3)
    agent = make_agent("ppg", "CartPole-v1", cfg, seed=0, num_envs=8)
    agent.train(60_000, out=tmp_path, eval_episodes=0, progress=False, tensorboard=False)
    assert agent.evaluate(10, seed=100)["return_mean"] >= 110.0
