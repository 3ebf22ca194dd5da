"""Shared fixtures for the language-model tests."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

# before torch or llama_cpp load libgomp: see LlamaCppLLM._open
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from copilot.config import Settings, load_settings
from copilot.llm import DEFAULT_MODEL, resolve
from copilot.llm.llamacpp import LlamaCppLLM


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than about 20 seconds")


@pytest.fixture(scope="session")
def real_settings() -> Settings:
    """Product settings (COPILOT_HOME honoured) so the default model is assembled once."""
    return load_settings({"threads": min(2, os.cpu_count() or 1)}, use_file=False)


@pytest.fixture(scope="session")
def qwen(real_settings: Settings) -> Iterator[LlamaCppLLM]:
    """The real default model, loaded once per session."""
    llm = resolve(DEFAULT_MODEL, real_settings)
    assert isinstance(llm, LlamaCppLLM)
    llm.load()
    yield llm
