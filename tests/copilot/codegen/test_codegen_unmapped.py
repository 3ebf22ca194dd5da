"""Parts named without their role, closed-choice settings, and RL terms no ask accounts for."""

from __future__ import annotations

import pytest

from copilot.codegen.asks import read_asks
from copilot.codegen.checks import check_spec, precheck, reconcile
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import read_facts
from copilot.codegen.plan import make_plan
from copilot.codegen.terms import choice_values, named_parts
from copilot.codegen.verify import verify


def plan_for(text: str):
    facts = read_facts(text)
    precheck(facts)
    asked = read_asks(text, facts.parts)
    spec = check_spec(reconcile({}, facts))
    return make_plan(asked, spec, facts, None)


def run_out(config=None, modules=None, steps=10000):
    return {"runs": [{"algo": "dqn", "env": "CartPole-v1", "seed": 0, "total_steps": steps,
                      "config": config or {}, "modules": modules or {}}],
            "artifacts": {"onnx": "run/policy.onnx"}}


def test_part_named_without_its_role_is_an_ask_checked_from_modules():
    plan = plan_for("Train DQN on CartPole-v1 with prioritized replay for 10000 steps and then export it to ONNX")
    assert plan.refusal is None and plan.spec.parts == {"storage": "prioritized_replay"}
    part = [a for a in plan.asks if a.kind == "part"]
    assert len(part) == 1 and part[0].check == {"path": "modules.storage", "value": "prioritized_replay"}
    assert verify(plan.asks, run_out(modules={"storage": "prioritized_replay", "policy": "q_network"}))
    plan = plan_for("Train DQN on CartPole-v1 with prioritized replay for 10000 steps and then export it to ONNX")
    assert not verify(plan.asks, run_out(modules={"storage": "replay"}))  # a silent default is caught
    assert "replay" in [a for a in plan.asks if a.kind == "part"][0].detail


@pytest.mark.parametrize("text,role,key", [
    ("use prioritized experience replay", "storage", "prioritized_replay"),
    ("DQN with PER", "storage", "prioritized_replay"),
    ("an n-step replay buffer", "storage", "nstep_replay"),
    ("a Nature CNN encoder", "encoder", "nature_cnn"),
    ("the IMPALA CNN", "encoder", "impala_cnn"),
    ("random shift augmentation", "augmentation", "random_shift"),
    ("a squashed Gaussian", "distribution", "squashed_gaussian"),
])
def test_part_aliases(text, role, key):
    assert named_parts(text)[0] == {role: key}


def test_ordinary_words_are_not_parts():
    assert named_parts("replay buffer of 50000, 3 steps per rollout, an MLP, 10 per cent")[0] == {}


def test_part_that_does_not_fit_the_algorithm_is_refused_naming_what_fits():
    with pytest.raises(Impossible, match="does not fit PPO; accepted: rollout"):
        plan_for("Train PPO on CartPole-v1 with prioritized experience replay for 20000 steps")


def test_linear_schedule_is_mapped_and_verified_from_config():
    plan = plan_for("Use a learning rate schedule that decays linearly for PPO on Acrobot-v1, 30000 steps")
    assert plan.refusal is None and plan.spec.config["lr_schedule"] == "linear"
    ask = [a for a in plan.asks if a.kind == "config"][0]
    assert ask.check == {"path": "config.lr_schedule", "value": "linear"}
    out = run_out(config={"lr_schedule": "linear"}, steps=30000)
    out["runs"][0].update(algo="ppo", env="Acrobot-v1")
    assert verify(plan.asks, out)
    out["runs"][0]["config"]["lr_schedule"] = "constant"
    plan = plan_for("Use a learning rate schedule that decays linearly for PPO on Acrobot-v1, 30000 steps")
    assert not verify(plan.asks, out)


@pytest.mark.parametrize("text,want", [
    ("linear learning-rate schedule", {"lr_schedule": "linear"}),
    ("decay the learning rate linearly", {"lr_schedule": "linear"}),
    ("anneal the lr", {"lr_schedule": "linear"}),
    ("keep a constant learning rate", {"lr_schedule": "constant"}),
    ("a linear clip range schedule", {"clip_schedule": "linear"}),
    ("the Adam optimizer", {"optimizer": "adam"}),
    ("Double DQN", {"double_q": True}),
    ("learning rate 3e-4 and batch size 64", {}),
])
def test_choice_phrasings(text, want):
    assert choice_values(text)[0] == want


def test_choice_field_the_algorithm_lacks_is_not_done():
    plan = plan_for("Train SAC on Pendulum-v1 for 5000 steps with a linear learning rate schedule")
    bad = [a for a in plan.asks if a.done is False]
    assert plan.refusal and bad and "SAC has no lr_schedule setting" in bad[0].detail


@pytest.mark.parametrize("text,term", [
    ("Train PPO on CartPole-v1 for 20000 steps with dropout 0.1", "dropout"),
    ("Train PPO on CartPole-v1 for 20000 steps with an LSTM policy", "LSTM"),
    ("Train DQN on CartPole-v1 for 20000 steps with a dueling network", "dueling"),
    ("Train PPO on CartPole-v1 for 20000 steps on the GPU", "GPU"),
    ("Train SAC on Pendulum-v1 for 5000 steps and log to wandb", "wandb"),
])
def test_unsupported_knob_is_a_not_done_ask(text, term):
    plan = plan_for(text)
    lost = [a for a in plan.asks if a.kind == "unmapped"]
    assert [a.ask for a in lost] == [f"Unmapped: {term}"] and lost[0].done is False
    assert plan.refusal == f"The request asks for {term}, which the generator could not map to an rlcore " \
                           "setting; not done."
    assert not verify(plan.asks, run_out())


@pytest.mark.parametrize("text", [
    "Train PPO on CartPole-v1 for 25000 steps with learning rate 3e-4, batch size 64 and 4 envs.",
    "DQN on CartPole-v1, 20k steps, buffer size 50000, target update interval 500, learning starts 1000.",
    "Train SAC on Pendulum-v1 for 5000 steps with observation normalization and seed 3, evaluate 5 episodes.",
    "Compare A2C and PPO on CartPole-v1 with 3 seeds each for 10000 steps; which is better?",
    "Train PPO on CartPole-v1 for 20000 steps with a linear learning rate schedule and a clip range of 0.2.",
    "Train A2C on CartPole-v1 for 20000 steps with the RMSprop optimizer.",
])
def test_fully_handled_requests_have_no_false_alarm(text):
    plan = plan_for(text)
    assert plan.refusal is None and not [a for a in plan.asks if a.kind == "unmapped"]


@pytest.mark.parametrize("text,field,values", [
    ("Compare PPO with and without a linear learning rate schedule on CartPole-v1, 2 seeds, 8000 steps each.",
     "lr_schedule", ["linear", "constant"]),
    ("Compare DQN with and without double Q-learning on CartPole-v1, 2 seeds, 6000 steps each.",
     "double_q", [True, False]),
])
def test_choice_and_bool_settings_toggle_between_their_values(text, field, values):
    plan = plan_for(text)
    assert [v["config"][field] for v in plan.grid["variants"].values()] == values
    axis = [a for a in plan.asks if a.ask == f"With and without {field}"][0]
    assert axis.check == {"how": "distinct", "path": f"config.{field}", "values": values}
