"""End to end with the real default model (slow): requests in English and Chinese."""

from __future__ import annotations

import os

import pytest

from copilot.codegen.generate import generate
from copilot.config import load_settings
from copilot.llm import DEFAULT_MODEL, resolve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_llm():
    settings = load_settings({"threads": min(2, os.cpu_count() or 1)}, use_file=False)
    llm = resolve(DEFAULT_MODEL, settings)
    try:
        llm.load()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the default model could not be loaded: {exc}")
    return llm


@pytest.fixture()
def home(tmp_path):
    return load_settings({"home": str(tmp_path / "home")}, use_env=False, use_file=False)


def test_english_request_runs_end_to_end(real_llm, home):
    result = generate("Train A2C on CartPole-v1 for 3000 steps with gamma 0.98 and seed 2.", home,
                      llm=real_llm, budget_s=240, fill="model")
    assert result.ok, (result.error, result.attempts)
    m = result.manifest
    assert (m["algo"], m["env"], m["seed"], m["config"]["gamma"]) == ("a2c", "CartPole-v1", 2, 0.98)
    assert 2700 <= m["total_steps"] <= 3300 and isinstance(m["eval"]["return_mean"], float)


def test_chinese_request_and_same_spec_twice(real_llm, home):
    request = "用TD3在Pendulum-v1上训练2000步，批大小为128"
    first = generate(request, home, llm=real_llm, run=False, fill="model")
    second = generate(request, home, llm=real_llm, run=False, fill="model")
    assert first.ok and second.ok, (first.error, second.error)
    assert first.spec == second.spec
    assert first.spec["algo"] == "td3" and first.spec["total_steps"] == 2000
    assert first.spec["config"].get("batch_size") == 128


def test_model_chooses_an_algorithm_that_can_act(real_llm, home):
    result = generate("Balance the pole on the cart (CartPole-v1) within 5000 steps.", home, llm=real_llm,
                      run=False)
    assert result.ok, (result.error, result.attempts)
    assert result.spec["algo"] in ("ppo", "a2c", "dqn") and result.spec["env_id"] == "CartPole-v1"


def test_impossible_budget_after_the_model_picks_the_algorithm(real_llm, home):
    result = generate("Swing up Pendulum-v1 in 3 million steps.", home, llm=real_llm, budget_s=120)
    assert not result.ok and "far over the 120 s budget" in result.error
    assert result.attempts[-1]["stage"] == "check" and result.manifest is None


def test_two_run_grid_through_the_model_and_sandbox(real_llm, home):
    events: list[tuple[str, dict]] = []
    result = generate("Compare PPO and A2C on CartPole-v1, 2048 steps each: which is better?", home, llm=real_llm,
                      budget_s=240, fill="model", on_event=lambda k, p: events.append((k, p)))
    assert result.ok, (result.error, result.asks, result.log_tail[-2000:])
    assert result.attempts[0]["stage"] == "run" and llm_was_asked(result)
    assert sorted(r["algo"] for r in result.runs) == ["a2c", "ppo"]
    assert all(2048 <= r["total_steps"] <= 2200 for r in result.runs)
    assert set(result.report["groups"]) == {"a2c", "ppo"} and result.report["best"] in ("a2c", "ppo")
    assert all(a["done"] for a in result.asks) and os.path.isfile(result.artifacts["plot"])
    runs = [p for k, p in events if k == "run"]
    assert {p["label"] for p in runs} == {"a2c", "ppo"} and {p["state"] for p in runs} >= {"queued", "done"}
    assert [k for k, _ in events].index("plan") < [k for k, _ in events].index("script")


def llm_was_asked(result) -> bool:
    return result.attempts[0]["spec"] is not None and "Experiment(" in result.script
