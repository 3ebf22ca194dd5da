"""The ``openai:URL`` backend against a real ``python -m llama_cpp.server`` on loopback,
serving the bundled default GGUF: chat, streaming, JSON-schema-constrained answers, context
budgeting, two users at once, and a server that dies mid-answer."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from copilot.config import Settings
from copilot.llm import ModelError, resolve
from copilot.llm.assets import QWEN_CODER_05B, ensure_asset
from copilot.llm.openai_compat import OpenAICompatLLM
from servers import wait_until_serving

N_CTX = 2048
SUM = [{"role": "system", "content": "Answer with the number only."},
       {"role": "user", "content": "What is 2 + 2?"}]
SPEC = {"type": "object", "additionalProperties": False, "required": ["algo", "steps"],
        "properties": {"algo": {"type": "string", "enum": ["ppo", "dqn", "sac"]},
                       "steps": {"type": "integer"}}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def llama_server(model: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m llama_cpp.server` on a free loopback port; its process group is killed at the end."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", "2",
           "--interrupt_requests", "False"]  # shared: a second user's request waits, it does not cut the first
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/v1/models", proc, log, "llama_cpp.server", timeout=180, poll=0.3)
        yield url, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def gguf(real_settings: Settings) -> Path:
    return ensure_asset(QWEN_CODER_05B, real_settings.models_dir, progress=False)


@pytest.fixture(scope="module")
def server(gguf: Path, tmp_path_factory) -> Iterator[str]:
    with llama_server(gguf, tmp_path_factory.mktemp("llama-server") / "server.log") as (url, _):
        yield url


def client(url: str, **settings) -> OpenAICompatLLM:
    llm = resolve(f"openai:{url}/v1", Settings(**{"n_ctx": N_CTX, "max_tokens": 48, "temperature": 0.0,
                                                  **settings}))
    assert isinstance(llm, OpenAICompatLLM)
    return llm


@pytest.mark.slow
def test_chat_and_streaming(server: str) -> None:
    llm = client(server)
    whole = llm.complete(SUM)
    assert whole.strip() == "4"
    pieces = list(llm.stream([{"role": "user", "content": "Name three RL algorithms, comma-separated."}]))
    assert len(pieces) > 3, pieces  # streamed token by token, not one block
    assert "".join(pieces).count(",") >= 2


@pytest.mark.slow
def test_json_schema_constrained_spec(server: str) -> None:
    llm = client(server)
    answer = llm.complete([{"role": "user", "content": "Train PPO for 50000 steps. Reply with the spec."}],
                          json_schema=SPEC, max_tokens=40)
    spec = json.loads(answer)
    assert set(spec) == {"algo", "steps"} and spec["algo"] in ("ppo", "dqn", "sac")
    assert isinstance(spec["steps"], int)
    assert llm.schema_style == "json_object"  # llama_cpp.server refused OpenAI's json_schema format


@pytest.mark.slow
def test_context_budgeting_keeps_long_prompts_inside_the_window(server: str) -> None:
    llm = client(server)
    long = [{"role": "system", "content": "Answer with the number only."},
            {"role": "user", "content": "Ignore this log: " + "step 12345 reward 0.75; " * 900},
            {"role": "user", "content": "What is 2 + 2?"}]
    assert llm.count_messages(long) > N_CTX
    assert llm.complete(long).strip() == "4"  # the oldest history was dropped to fit
    with pytest.raises(ModelError) as err:  # the same chat sent unbudgeted does not fit the server
        "".join(llm._stream(long, max_tokens=32, temperature=0.0, stop=[], json_schema=None))
    assert str(err.value).startswith(f"The server at {llm.url} ") and "\n" not in str(err.value)


@pytest.mark.slow
def test_two_users_share_one_server(server: str) -> None:
    answers: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            answers.append(client(server).complete(SUM).strip())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and answers == ["4", "4"]


@pytest.mark.slow
def test_a_server_that_dies_mid_answer_is_one_sentence_and_no_answer(gguf: Path, tmp_path: Path) -> None:
    from copilot.ui.services import one_sentence

    with llama_server(gguf, tmp_path / "server.log") as (url, proc):
        llm = client(url, max_tokens=300)
        got: list[str] = []
        with pytest.raises(ModelError) as err:
            for piece in llm.stream([{"role": "user", "content": "Count from 1 to 200, one number a line."}]):
                got.append(piece)
                if len(got) == 3:
                    os.killpg(proc.pid, signal.SIGKILL)
    message = str(err.value)
    assert len(got) >= 3 and message == (f"The server at {llm.url} stopped answering before the answer was "
                                         "finished, so the answer is incomplete; ask again once the server "
                                         "is running.")
    assert one_sentence(err.value) == message
    with pytest.raises(ModelError, match=r"^Could not reach the OpenAI-compatible server at .*; check that it"):
        llm.complete(SUM)
