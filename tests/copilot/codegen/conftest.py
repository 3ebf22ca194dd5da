"""Fixtures for the code-generation tests: isolated settings and a scripted fake LLM."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from copilot.config import Settings, load_settings
from copilot.llm.base import LLM


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than about 20 seconds")


class ScriptedLLM(LLM):
    """Answers with the given strings in turn (the last one repeats); records every prompt.

    Only used to isolate units from the real model; the real model has its own tests.
    """

    name = "scripted"
    constrained_json = True

    def __init__(self, *answers: str | dict):
        self.answers = [a if isinstance(a, str) else json.dumps(a) for a in answers]
        self.prompts: list[list[dict]] = []
        self.schemas: list[dict | None] = []

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4) if text else 0

    def _stream(self, messages, *, max_tokens, temperature, stop, json_schema) -> Iterator[str]:
        self.prompts.append(messages)
        self.schemas.append(json_schema)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        yield answer


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
