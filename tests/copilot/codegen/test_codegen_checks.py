"""Reconciling the model's spec with the request, and refusing what cannot work."""

from __future__ import annotations

import pytest

from copilot.codegen import budget
from copilot.codegen.checks import check_spec, reconcile
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import read_facts
from copilot.codegen.spec import RunSpec


def test_stated_facts_win_over_the_model(make_spec):
    facts = read_facts("DQN on Acrobot-v1 for 12000 steps with batch size 64, seed 4")
    spec = reconcile(make_spec(algo="ppo", env_id="CartPole-v1", total_steps=1000, seed=0,
                               config={"batch_size": 32}), facts)
    assert (spec.algo, spec.env_id, spec.total_steps, spec.seed) == ("dqn", "Acrobot-v1", 12000, 4)
    assert spec.config == {"batch_size": 64}
    assert any("Algorithm set to dqn" in n for n in spec.notes)


def test_unsupported_model_values_are_dropped_with_a_note(make_spec):
    facts = read_facts("Train PPO on CartPole-v1 for 20000 steps")
    spec = reconcile(make_spec(config={"lr": 0.05, "n_epochs": 3}, parts={"encoder": "identity"},
                               seed=9, num_envs=3, eval_episodes=50, checkpoint_every=500), facts)
    assert spec.config == {} and spec.parts == {}
    assert spec.seed == 0 and spec.num_envs is None and spec.eval_episodes == 10 and spec.checkpoint_every == 0
    assert sum("Dropped" in n for n in spec.notes) == 3


def test_model_values_the_request_supports_are_kept(make_spec):
    facts = read_facts("PPO on CartPole-v1 for 20000 steps, and please use a smaller clip range")
    spec = reconcile(make_spec(config={"clip_range": 0.1}), facts)
    assert spec.config == {"clip_range": 0.1}


def test_generic_learning_rate_spreads_to_actor_and_critic(make_spec):
    spec = reconcile(make_spec(algo="drqv2", env_id="Pendulum-v1"),
                     read_facts("DrQ-v2 on Pendulum-v1, 3000 steps, lr 3e-4"))
    assert spec.config == {"actor_lr": 3e-4, "critic_lr": 3e-4}
    spec = reconcile(make_spec(algo="sac", env_id="Pendulum-v1"), read_facts("SAC on Pendulum-v1, 3000 steps, lr 3e-4"))
    assert spec.config == {"lr": 3e-4}  # SAC has one field for both


def test_hyperparameter_that_does_not_apply_is_noted(make_spec):
    spec = reconcile(make_spec(algo="dqn"), read_facts("DQN on CartPole-v1 for 5000 steps with entropy coefficient 0.01"))
    assert spec.config == {} and any("does not apply" in n for n in spec.notes)


def test_out_of_range_request_is_impossible(make_spec):
    with pytest.raises(Impossible, match="gamma"):
        reconcile(make_spec(), read_facts("PPO on CartPole-v1 for 5000 steps with gamma 1.5"))


def test_unknown_env_is_impossible_with_a_suggestion(make_spec):
    with pytest.raises(Impossible, match=r"'CartPol-v1' is not a registered Gymnasium environment \(did you mean 'CartPole-v1'"):
        reconcile(make_spec(), read_facts("Train PPO on CartPol-v1 for 5000 steps"))


def test_model_env_without_support_in_the_request_is_refused(make_spec):
    with pytest.raises(Impossible, match="names no environment"):
        reconcile(make_spec(env_id="CartPole-v1"), read_facts("Train PPO on the Flappy Bird game for 5000 steps"))


def test_unknown_algorithm_is_refused(make_spec):
    with pytest.raises(Impossible, match="no 'rainbow' agent"):
        reconcile(make_spec(algo="dqn"), read_facts("Train Rainbow on CartPole-v1 for 5000 steps"))


def test_wrong_action_space_says_what_would_work():
    spec = RunSpec("dqn", "Pendulum-v1", 5000)
    with pytest.raises(Impossible, match=r"DQN cannot act in Pendulum-v1's continuous \(Box\) action space; "
                                         r"use ddpg, drqv2, sac, td3, daac, ppg, a2c or ppo") as info:
        check_spec(spec)
    assert info.value.subject == "algo"
    with pytest.raises(Impossible, match="cannot act in CartPole-v1's discrete"):
        check_spec(RunSpec("sac", "CartPole-v1", 5000))


def test_budget_too_small_is_refused_with_what_fits():
    spec = RunSpec("sac", "Pendulum-v1", 2_000_000)
    with pytest.raises(Impossible, match=r"far over the 300 s budget; ask for about \d+ steps") as info:
        check_spec(spec, budget_s=300)
    assert info.value.subject == "steps"
    check_spec(RunSpec("sac", "Pendulum-v1", 5000), budget_s=300)


def test_too_few_steps_to_learn_anything():
    with pytest.raises(Impossible, match="acts randomly for its first 1000 steps"):
        check_spec(RunSpec("dqn", "CartPole-v1", 800))
    with pytest.raises(Impossible, match="less than one PPO rollout"):
        check_spec(RunSpec("ppo", "CartPole-v1", 100, config={"n_steps": 128}))


def test_missing_part_is_refused_honestly():
    with pytest.raises(Impossible, match="reward"):
        check_spec(RunSpec("ppo", "CartPole-v1", 5000, parts={"reward": "no_such_bonus"}))
    with pytest.raises(Impossible, match="does not fit SAC"):
        check_spec(RunSpec("sac", "Pendulum-v1", 5000, parts={"policy": "q_network"}))


def test_rollout_is_shrunk_to_fit_the_step_count():
    spec = check_spec(RunSpec("ppo", "CartPole-v1", 1500))
    n_steps = spec.config["n_steps"]
    overshoot = -(-1500 // (8 * n_steps)) * 8 * n_steps - 1500
    assert overshoot <= 75 and any("n_steps lowered" in n for n in spec.notes)
    assert "n_steps" not in check_spec(RunSpec("ppo", "CartPole-v1", 8192)).config


def test_estimates_grow_with_steps_and_updates():
    small, big = RunSpec("sac", "Pendulum-v1", 1000), RunSpec("sac", "Pendulum-v1", 100_000)
    assert budget.STARTUP_S < budget.estimate_seconds(small) < budget.estimate_seconds(big)
    assert budget.estimate_seconds(RunSpec("ppo", "CartPole-v1", 100_000)) < budget.estimate_seconds(big)
    assert 0 < budget.max_steps_within(big, 300) < 100_000
