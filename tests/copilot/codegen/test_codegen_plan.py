"""Plans, written code and verification: grids, refusals, reward templates, asks decided from outputs."""

from __future__ import annotations

import pytest

from copilot.codegen.asks import read_asks
from copilot.codegen.checks import check_spec, reconcile
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import read_facts
from copilot.codegen.fixrun import diagnose, propose, stated_baseline
from copilot.codegen.plan import expected_groups, make_plan
from copilot.codegen.render_plan import render_plan
from copilot.codegen.validate import validate_script
from copilot.codegen.verify import verify
from copilot.codegen.written import grid_env, reward_expression


def plan_for(text: str):
    facts = read_facts(text)
    asked = read_asks(text, facts.parts)
    spec = check_spec(reconcile({}, facts))
    return make_plan(asked, spec, facts, None), facts


def test_grid_of_algorithms_and_seeds_renders_a_valid_experiment():
    plan, _ = plan_for("Compare A2C and PPO on CartPole-v1 with 3 seeds each for 10000 steps; which is better?")
    assert plan.grid["algos"] == ["a2c", "ppo"] and plan.grid["seeds"] == [0, 1, 2] and plan.run_count() == 6
    assert expected_groups(plan.grid) == 2
    kinds = [a.kind for a in plan.asks]
    assert kinds[0] == "grid" and "stats" in kinds and "best" in kinds and plan.refusal is None
    script = render_plan(plan, "req")
    validate_script(script, "train.py")
    assert "Experiment(" in script and "exp.run(workers=2" in script


def test_variants_are_a_product():
    plan, _ = plan_for("SAC on Pendulum-v1 with learning rates 1e-3 and 3e-4, batch sizes 64 and 256, 4000 steps")
    var = plan.grid["variants"]
    assert len(var) == 4 and plan.run_count() == 4
    assert var["lr=0.001, batch_size=64"]["config"] == {"lr": 0.001, "batch_size": 64}
    toggled, _ = plan_for("PPO on Pendulum-v1, 3 seeds with and without observation normalization, 30000 steps")
    assert toggled.grid["common"]["config"] == {}  # the toggled field is not forced on every run
    assert {v["config"]["normalize_obs"] for v in toggled.grid["variants"].values()} == {True, False}


def test_single_run_post_steps_validate():
    plan, _ = plan_for("Train TD3 on Pendulum-v1 for 4000 steps, export it to ONNX, then reload the final "
                       "checkpoint and evaluate it for 20 episodes, and continue for another 2000 steps.")
    assert plan.grid is None and plan.post == {"more_steps": 2000, "evaluate": 20, "exports": ["onnx"]}
    script = render_plan(plan)
    validate_script(script, "train.py")
    assert "resume(RUN_DIR, 2000)" in script and "evaluate_checkpoint(RUN_DIR, episodes=20)" in script
    assert "export(RUN_DIR, 'onnx')" in script


def test_tuning_and_unavailable_activation_are_not_done():
    plan, _ = plan_for("Tune the dropout of PPO on CartPole-v1 in 10000 steps")
    assert plan.refusal and "asks for dropout" in plan.refusal and plan.asks[-1].done is False
    plan, _ = plan_for("SAC on Pendulum-v1 for 5000 steps with tanh activations")
    assert plan.refusal and "no activation setting" in plan.refusal
    plan, _ = plan_for("SAC on Pendulum-v1 for 5000 steps with two hidden layers of 256 and ReLU")
    assert plan.refusal is None and plan.spec.config["hidden"] == [256, 256]
    assert [a.done for a in plan.asks if a.kind == "network"] == [None, True]


@pytest.mark.parametrize("sentence,env,expr", [
    ("a reward of -1 on every step instead of +1", "CartPole-v1", "-1.0"),
    ("adding 0.1 to the reward whenever the car's velocity is positive", "MountainCarContinuous-v0",
     "reward + (0.1 if obs[1] > 0 else 0.0)"),
    ("subtract a penalty of 0.05 from the reward", "Pendulum-v1", "reward - 0.05"),
    ("subtract a penalty from the reward", "Pendulum-v1", "reward - 0.01"),
    ("scale the reward by 0.1", "Pendulum-v1", "reward * 0.1"),
    ("clip the reward to [-1, 1]", "CartPole-v1", "float(np.clip(reward, -1.0, 1.0))"),
])
def test_reward_templates(sentence, env, expr):
    assert reward_expression(sentence, env)[0] == expr


def test_unknown_reward_change_and_custom_env_are_refused():
    with pytest.raises(Impossible, match="matches no reward template"):
        reward_expression("make the reward more interesting", "CartPole-v1")
    with pytest.raises(Impossible, match="Only square grid-world"):
        grid_env("a custom environment where a robot juggles")
    assert grid_env("a 6x6 grid, reach the opposite corner").env_id == "GridWorld6x6-v0"


def test_written_env_script_validates():
    text = "Train PPO on CartPole-v1 for 30000 steps with a reward of -1 on every step instead of +1."
    facts = read_facts(text)
    asked = read_asks(text, facts.parts)
    from copilot.codegen.plan import written_code

    spec = check_spec(reconcile({}, facts))
    plan = make_plan(asked, spec, facts, None, written_code(asked, spec))
    script = render_plan(plan)
    validate_script(script, "train.py")
    assert "class RewardChange(gymnasium.Wrapper)" in script and "smoke" in script


def run(**over):
    base = {"algo": "ppo", "env": "CartPole-v1", "seed": 0, "total_steps": 10240, "config": {"lr": 3e-4},
            "modules": {"encoder": "mlp"}, "eval": {"return_mean": 200.0, "episodes": 10}}
    return {**base, **over}


def test_verify_decides_each_ask_from_outputs():
    plan, _ = plan_for("Compare A2C and PPO on CartPole-v1 with 2 seeds each for 10000 steps; which is better?")
    runs = [run(algo=a, seed=s) for a in ("a2c", "ppo") for s in (0, 1)]
    report = {"metric": "iqm", "groups": {"a2c": {"point": 1.0, "lower": 0.5, "upper": 2.0, "runs": 2},
                                          "ppo": {"point": 3.0, "lower": 2.0, "upper": 4.0, "runs": 2}},
              "best": "ppo", "verdict": "ppo scored higher than a2c."}
    assert verify(plan.asks, {"runs": runs, "report": report, "evaluations": [], "artifacts": {}})
    assert plan.asks[-1].detail == "ppo scored higher than a2c."
    plan, _ = plan_for("Compare A2C and PPO on CartPole-v1 with 2 seeds each for 10000 steps; which is better?")
    ok = verify(plan.asks, {"runs": runs[:3], "report": report, "evaluations": [], "artifacts": {}})
    assert not ok and plan.asks[0].detail == "3 of 4 runs finished."


def test_verify_single_run_post_steps(tmp_path):
    plan, _ = plan_for("Train PPO on CartPole-v1 for 10000 steps and export it to ONNX, then reload the "
                       "checkpoint and evaluate it for 30 episodes")
    out = {"runs": [run()], "report": None, "evaluations": [{"episodes": 30, "return_mean": 120.0}],
           "artifacts": {}}
    assert not verify(plan.asks, out)
    export = [a for a in plan.asks if a.kind == "export"][0]
    assert export.done is False and export.detail == "no onnx file was written."
    assert [a for a in plan.asks if a.kind == "evaluate"][0].done is True


def test_fix_baseline_proposal_and_diagnosis(tmp_path):
    assert stated_baseline("my dqn never gets past -200.") == -200.0
    change = propose("dqn", "MountainCar-v0", [], None)
    assert change["config"]["gamma"] == 0.98 and change["steps"] == 60_000
    change = propose("ppo", "MountainCar-v0", [], 20000)
    assert change["parts"] == {"reward": "rnd"} and change["config"] == {"normalize_obs": True}
    (tmp_path / "run.json").write_text('{"algo": "ppo", "env": "MountainCar-v0", "eval": {"return_mean": -200.0}}')
    (tmp_path / "episodes.csv").write_text("step,return,length\n" + "".join(f"{i},-200,200\n" for i in range(8)))
    findings, ret, _ = diagnose(tmp_path)
    assert ret == -200.0 and any("flat" in f for f in findings) and any("never reached" in f for f in findings)
