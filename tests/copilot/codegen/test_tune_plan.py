"""Tuning requests -> an rlcore tune study plan: fields, ranges, trials, refusals, script, and a real run."""

from __future__ import annotations

import pytest

from copilot.codegen.asks import read_asks
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import read_facts
from copilot.codegen.generate import generate
from copilot.codegen.plan import make_plan
from copilot.codegen.render_plan import render_plan
from copilot.codegen.spec import RunSpec
from copilot.codegen.tune_plan import named, stated_range
from copilot.codegen.validate import validate_script


def plan_for(request: str, algo: str = "ppo", env: str = "CartPole-v1", steps: int = 20_000):
    facts = read_facts(request)
    spec = RunSpec(algo, env, steps, config={k: v for k, v in facts.hyper.items() if k != "hidden"})
    return make_plan(read_asks(request, facts.parts), spec, facts, None)


def test_learning_rate_ask_becomes_a_study():
    plan = plan_for("Find a good learning rate for PPO on CartPole-v1 with 20000 steps")
    assert plan.refusal is None and plan.grid is None
    assert (
        plan.tune["params"] == ["lr=log:1e-5:1e-2"] and plan.tune["trials"] == 10 and plan.tune["seeds"] == 2
    )
    assert plan.run_count() == 20
    assert (
        plan.asks[0].ask
        == "Tune lr of PPO on CartPole-v1 with Optuna: 10 trials x 2 seeds, 20,000 steps each"
    )
    assert [a.check.get("kind") for a in plan.asks[2:4]] == ["history", "importances"]


def test_stated_range_trials_seeds_and_fixed_values():
    plan = plan_for(
        "Tune the learning rate of PPO on CartPole-v1 between 1e-4 and 3e-3 with 6 trials and 3 seeds, "
        "gamma 0.98"
    )
    assert plan.refusal is None
    assert plan.tune["params"] == ["lr=log:0.0001:0.003"] and plan.tune["fixed"] == {"gamma": 0.98}
    assert (plan.tune["trials"], plan.tune["seeds"]) == (6, 3)
    assert any(a.ask == "gamma = 0.98" for a in plan.asks)
    assert stated_range("gamma from 0.9 to 0.999") == (0.9, 0.999) and stated_range("lr 1e-3") is None
    assert named("tune the entropy coefficient and the clip range", {}) == ["ent_coef", "clip_range"]


def test_no_parameter_named_searches_lr_and_gamma_and_says_so():
    plan = plan_for(
        "Tune the hyperparameters of SAC on Pendulum-v1", algo="sac", env="Pendulum-v1", steps=5000
    )
    assert [p.split("=")[0] for p in plan.tune["params"]] == ["lr", "gamma"]
    assert "the request names no hyperparameter" in plan.asks[0].ask


@pytest.mark.parametrize(
    "request_text, fragment",
    [
        ("Tune the clip range of SAC on Pendulum-v1", "SAC has no clip_range setting to tune"),
        ("Tune the buffer size of DQN on CartPole-v1", "No search range is known for buffer_size"),
        ("Find a good learning rate for PPO on CartPole-v1 and add dropout", "dropout"),
        ("Find a good learning rate for PPO on CartPole-v1 and export it to ONNX", "not with a tuning study"),
        (
            "Tune the learning rates 1e-3 and 3e-4 and the gamma of PPO on CartPole-v1",
            "Compare fixed values of lr",
        ),
        ("Tune the learning rate of PPO on CartPole-v1 with 40 trials and 3 seeds", "is 120 runs"),
    ],
)
def test_asks_it_cannot_honour_are_not_done(request_text, fragment):
    algo, env = (
        ("sac", "Pendulum-v1")
        if "SAC" in request_text
        else (("dqn", "CartPole-v1") if "DQN" in request_text else ("ppo", "CartPole-v1"))
    )
    try:
        plan = plan_for(request_text, algo=algo, env=env)
    except Impossible as exc:  # one sentence, nothing planned
        assert fragment in str(exc) and str(exc).endswith(".")
        return
    assert plan.refusal and fragment in plan.refusal
    assert any(a.done is False for a in plan.asks)


def test_script_validates_and_names_the_study():
    plan = plan_for("Find a good learning rate for PPO on CartPole-v1 with 6 trials, gamma 0.98")
    script = render_plan(plan, "Find a good learning rate")
    validate_script(script, "train.py")
    assert "Tuner(" in script and "'lr=log:1e-5:1e-2'" in script and "CONFIG = {'gamma': 0.98}" in script
    assert "study_name='tune'" in script and "outputs.json" in script


@pytest.mark.slow
def test_tuning_request_runs_in_the_sandbox_and_is_verified(settings, tmp_path):
    result = generate(
        "Find a good learning rate for PPO on CartPole-v1 with 3 trials and 2 seeds, 1024 steps "
        "per run with 2 envs",
        settings,
        budget_s=120,
        out=tmp_path / "tune",
    )
    assert result.ok, (result.error, result.asks, result.log_tail[-2000:])
    asks = result.to_json()["asks"]
    assert all(a["done"] for a in asks), asks
    assert "best trial" in asks[0]["detail"] and "over 2 seeds" in asks[0]["detail"]
    assert len(result.runs) == 2 and all(r["total_steps"] >= 1024 for r in result.runs)
    assert (tmp_path / "tune" / "study" / "study.journal").is_file()
    assert (
        result.report["verdict"].startswith("Best trial")
        and "python -m rlcore train ppo" in result.report["verdict"]
    )


def test_find_the_best_named_setting_is_a_tuning_ask():
    plan = plan_for("Find the best gamma and GAE lambda for PPO on CartPole-v1, 4 trials, 3 seeds")
    assert plan.refusal is None and (plan.tune["trials"], plan.tune["seeds"]) == (4, 3)
    assert plan.tune["params"] == ["gamma=float:0.9:0.9999", "gae_lambda=float:0.8:0.99"]
    assert not read_asks("Find the best algorithm for CartPole-v1").tune
