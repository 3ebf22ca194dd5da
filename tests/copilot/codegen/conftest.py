"""Fixtures for the code-generation tests: isolated settings and a scripted fake LLM."""

from __future__ import annotations

import pytest

from copilot.config import Settings, load_settings
from copilot.llm.base import LLM
from fake_llm import FakeLLM


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than about 20 seconds")


def ScriptedLLM(*answers: str | dict) -> FakeLLM:  # noqa: N802 - stands where a class stood
    """Answers with the given strings in turn (the last one repeats); records every prompt.

    Only used to isolate units from the real model; the real model has its own tests.
    """
    return FakeLLM(*answers, name="scripted")


def spec_json(**over) -> dict:
    base = {"algo": "ppo", "env_id": "CartPole-v1", "total_steps": 256, "seed": 0, "num_envs": 2,
            "config": {}, "parts": {}, "eval_episodes": 1, "checkpoint_every": 0}
    base.update(over)
    return base


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return load_settings({"home": str(tmp_path / "home")}, use_env=False, use_file=False)


@pytest.fixture()
def make_spec():
    """``make_spec(**overrides)`` -> a RunSpec dict as the model would answer."""
    return spec_json


@pytest.fixture()
def scripted():
    """``scripted(*answers)`` -> a :class:`ScriptedLLM`."""
    return ScriptedLLM
