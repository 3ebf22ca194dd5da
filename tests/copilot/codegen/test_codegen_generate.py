"""The request -> run pipeline, with a scripted model standing in for the LLM."""

from __future__ import annotations

import json

import pytest

from copilot.__main__ import main
from copilot.codegen.errors import CodegenError
from copilot.codegen.generate import generate
from copilot.llm import register_model, unregister_model

KEYS = {"ok", "error", "asks", "runs", "report", "evaluations", "artifacts", "script", "spec", "script_path",
        "attempts", "manifest", "curve_png", "log_tail", "run_dir"}


def test_tiny_request_runs_and_reports(settings, scripted, make_spec):
    llm = scripted(make_spec(total_steps=300, num_envs=2))
    events: list[tuple[str, dict]] = []
    result = generate("Train PPO on CartPole-v1 for 300 steps with 2 envs, evaluate over 2 episodes",
                      settings, llm=llm, budget_s=240, on_event=lambda k, p: events.append((k, p)), fill="model")
    assert result.ok, result.error
    assert set(result.to_json()) == KEYS
    assert result.runs[0]["run_dir"] == result.run_dir and result.asks[0]["done"] is True
    assert result.manifest["total_steps"] >= 300 and result.manifest["eval"]["episodes"] == 2
    assert result.spec["num_envs"] == 2 and result.curve_png.endswith("curve.png")
    assert result.script_path.startswith(str(settings.runs_dir))
    kinds = [k for k, _ in events]
    assert kinds[0] == "status" and "spec" in kinds and "script" in kinds and "log" in kinds
    assert kinds.index("plan") < kinds.index("script") and "run" in kinds and "report" in kinds
    assert [p["state"] for k, p in events if k == "run"][-1] == "done"
    assert kinds[-1] == "done" and events[-1][1] == result.to_json()
    assert llm.schemas[0]["properties"]["algo"]["enum"] == ["ppo"]  # the grammar follows the stated algo
    assert "CartPole-v1 (Discrete)" in llm.prompts[0][0]["content"]


def test_without_run_only_validates(settings, scripted, make_spec, tmp_path):
    result = generate("PPO on CartPole-v1 for 4096 steps", settings, llm=scripted(make_spec(total_steps=4096)),
                      run=False, out=tmp_path / "out")
    assert result.ok and result.manifest is None and result.script_path == str(tmp_path / "out" / "train.py")
    assert "make_agent(" in result.script and result.attempts[0]["stage"] == "validate"


def test_malformed_answer_is_repaired_and_every_attempt_recorded(settings, scripted, make_spec):
    llm = scripted('{"algo": "ppo", "env_id": "CartPole-v1", "total_', make_spec(total_steps=300))
    result = generate("PPO on CartPole-v1, 300 steps, 2 envs", settings, llm=llm, budget_s=240, max_repairs=1,
                      fill="model")
    assert result.ok, result.error
    assert [a["ok"] for a in result.attempts] == [False, True]
    assert "not valid JSON" in result.attempts[0]["error"]
    assert "That spec failed" in llm.prompts[1][-1]["content"]


def test_model_choice_that_cannot_act_is_repaired(settings, scripted, make_spec):
    llm = scripted(make_spec(algo="dqn", env_id="Pendulum-v1", total_steps=5000),
                   make_spec(algo="sac", env_id="Pendulum-v1", total_steps=5000))
    result = generate("Swing up Pendulum-v1 in 5000 steps", settings, llm=llm, run=False)
    assert result.ok and result.spec["algo"] == "sac"
    assert "DQN cannot act" in result.attempts[0]["error"]
    assert "use ddpg, drqv2, sac, td3" in llm.prompts[1][-1]["content"]


@pytest.mark.parametrize("request_text,answer,fragment", [
    ("Train PPO on a made-up env NotAnEnv-v0.", {}, "'NotAnEnv-v0' is not a registered Gymnasium environment"),
    ("DQN on Pendulum-v1 for 5000 steps", {"algo": "dqn", "env_id": "Pendulum-v1"},
     "DQN cannot act in Pendulum-v1's continuous (Box) action space; use ddpg, drqv2, sac, td3"),
    ("SAC on Pendulum-v1 for 5 million steps", {"algo": "sac", "env_id": "Pendulum-v1"}, "far over the 300 s budget"),
    ("PPO with the AGAC bonus on CartPole-v1 for 5000 steps", {}, "rlcore has no reward 'agac'"),
])
def test_impossible_requests_end_with_one_sentence(settings, scripted, make_spec, request_text, answer, fragment):
    llm = scripted(make_spec(**answer))
    result = generate(request_text, settings, llm=llm, budget_s=300)
    assert not result.ok and fragment in result.error
    assert result.error.count(". ") == 0 and result.error.endswith(".")
    assert len(result.attempts) == 1 and result.manifest is None


def test_failed_run_is_never_ok(settings, scripted, make_spec):
    llm = scripted(make_spec(total_steps=300))
    result = generate("PPO on CartPole-v1 for 300 steps with 2 envs", settings, llm=llm, budget_s=1)
    assert not result.ok and result.manifest is None
    assert "wall-time limit" in result.error or "budget" in result.error


def test_empty_request_is_a_user_error(settings, scripted):
    with pytest.raises(CodegenError, match="The request is empty"):
        generate("   ", settings, llm=scripted("{}"))


def test_same_request_same_spec(settings, scripted, make_spec):
    answers = [make_spec(total_steps=9000, config={"gamma": 0.95})] * 2
    first = generate("PPO on CartPole-v1 for 9000 steps, gamma 0.95", settings, llm=scripted(*answers), run=False,
                     fill="model")
    second = generate("PPO on CartPole-v1 for 9000 steps, gamma 0.95", settings, llm=scripted(*answers), run=False)
    assert first.spec == second.spec and first.script == second.script  # model-filled and code-filled agree


@pytest.fixture()
def fake_model(scripted, make_spec):
    name = "scripted-codegen-test"
    register_model(name, lambda s: scripted(make_spec(total_steps=300, num_envs=2)), replace=True)
    yield name
    unregister_model(name)


def test_cli_generate_json_last_line(fake_model, tmp_path, capsys):
    code = main(["--home", str(tmp_path), "generate", "PPO on CartPole-v1 for 300 steps, 2 envs", "--run",
                 "--json", "--model", fake_model, "--budget-s", "240", "--fill", "model"])
    out = capsys.readouterr().out.strip().splitlines()
    data = json.loads(out[-1])
    assert code == 0 and set(data) == KEYS and data["ok"] and data["manifest"]["algo"] == "ppo"


def test_cli_run_validates_and_runs(tmp_path, capsys):
    script = tmp_path / "mine.py"
    script.write_text("import socket\n")
    code = main(["--home", str(tmp_path), "run", str(script), "--json"])
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and not data["ok"] and "importing 'socket'" in data["error"]
    assert main(["--home", str(tmp_path), "run", str(tmp_path / "missing.py")]) == 2
