"""Cited answers: the chat chain over a real index, with a fake LLM to isolate the unit and
the real default model (slow) for the path users take, offline."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from copilot.chat import NOT_COVERED, SYSTEM, Answer, Copilot, cited_numbers, focus
from copilot.config import Settings
from copilot.ingest import ingest
from copilot.llm.base import LLM

ROOT = Path(__file__).resolve().parents[2]
CORPUS = {
    "gae.md": "# Generalized advantage estimation\n\n## GAE lambda\n\nGAE averages n-step advantage "
              "estimates with weights controlled by lambda; lambda trades bias against variance.\n",
    "replay.md": "# Experience replay\n\n## Replay buffer size\n\nThe replay buffer stores past "
                 "transitions; its capacity decides how much old experience DQN keeps.\n",
    "sac.md": "# Soft actor-critic\n\n## SAC temperature\n\nSAC tunes the temperature alpha so the policy "
              "entropy tracks a target entropy.\n",
}


class EchoLLM(LLM):
    """Answers with a fixed sentence citing source 2; records the prompt it was given."""

    name = "echo"
    n_ctx = 2048

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def _stream(self, messages, *, max_tokens, temperature, stop, json_schema) -> Iterator[str]:
        self.seen = messages
        yield from ["The buffer keeps ", "old transitions [2]", "."]


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("chat-home")
    docs = home / "docs"
    docs.mkdir()
    for name, text in CORPUS.items():
        (docs / name).write_text(text)
    s = Settings(home=home, corpus=[str(docs)])
    ingest([str(docs)], s, progress=False)
    return s


def test_answer_streams_pieces_then_cites_the_sources_it_used(settings):
    bot = Copilot(settings, llm=EchoLLM())
    items = list(bot.stream("How large should the replay buffer be?", k=3))
    assert all(isinstance(i, str) for i in items[:-1]) and isinstance(items[-1], Answer)
    answer = items[-1]
    first, _, quote = answer.answer.partition("\n\nFrom [")
    assert first == "The buffer keeps old transitions [2]."
    # a one-sentence answer is followed by the best source sentence it does not already say
    n = int(quote.split("]")[0])
    assert quote.endswith('"') and quote.split(': "', 1)[1][:-1] in prompt_of(bot)
    assert [s.n for s in answer.sources] == sorted({2, n}, key=[2, n].index)  # only cited sources
    assert bot.llm.seen[0] == {"role": "system", "content": SYSTEM}
    prompt = prompt_of(bot)
    assert "[1]" in prompt and "[2]" in prompt and "replay buffer" in prompt.lower()
    assert prompt.endswith("\n\nQuestion: How large should the replay buffer be?")
    data = answer.to_json()
    assert set(data) == {"answer", "sources", "model", "timings"}
    assert set(data["sources"][0]) == {"n", "title", "path", "kind", "score"}
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(data["timings"])


def prompt_of(bot) -> str:
    """The last user turn the model saw: numbered sources, then the question."""
    assert bot.llm.seen[-1]["role"] == "user"
    return bot.llm.seen[-1]["content"]


def test_the_system_message_is_the_same_for_every_question_and_is_primed_at_warm(settings):
    """Backends that keep prompt state evaluate the fixed system message once, at warm-up."""
    llm = EchoLLM()
    primed = []
    llm.prime = primed.append
    bot = Copilot(settings, llm=llm)
    bot.warm()
    assert primed == [[{"role": "system", "content": SYSTEM}]]
    systems = []
    for question in ("How large should the replay buffer be?", "How does SAC tune alpha?"):
        bot.ask(question)
        systems.append(llm.seen[0])
    assert systems == [{"role": "system", "content": SYSTEM}] * 2


class UncitedLLM(EchoLLM):
    """Answers in two sentences without citing anything."""

    def _stream(self, messages, *, max_tokens, temperature, stop, json_schema) -> Iterator[str]:
        self.seen = messages
        yield from ["Replay keeps experience. ", "It helps learning."]


def test_an_answer_without_citations_is_grounded_by_a_quoted_source_sentence(settings):
    bot = Copilot(settings, llm=UncitedLLM())
    answer = bot.ask("How large should the replay buffer be?", k=3)
    said, _, quote = answer.answer.partition("\n\nFrom [")
    assert said == "Replay keeps experience. It helps learning."
    n = int(quote.split("]")[0])
    assert quote.split(': "', 1)[1][:-1] in prompt_of(bot)
    # the model cited nothing, so every source it was shown is listed (the quoted one among them)
    assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    assert n in [s.n for s in answer.sources] and len(answer.sources) >= 2


def test_question_outside_the_corpus_is_said_plainly(settings):
    bot = Copilot(settings, llm=EchoLLM())
    answer = bot.ask("zxqv wibble frobnicate?")
    assert answer.answer == NOT_COVERED and answer.sources == [] and not answer.covered
    assert bot.llm.seen == []  # the model was not asked to guess


def test_history_is_passed_and_empty_question_refused(settings):
    bot = Copilot(settings, llm=EchoLLM())
    history = [{"role": "user", "content": "What is SAC?"}, {"role": "assistant", "content": "An agent."}]
    bot.ask("How does it tune its temperature?", history=history)
    assert bot.llm.seen[1:3] == history
    with pytest.raises(ValueError, match="empty"):
        bot.ask("   ")


def test_citations_and_focus():
    assert cited_numbers("a [2] b [1] c [2] d [9]", 3) == [2, 1]
    text = "\n\n".join(f"Paragraph {i} about topic{i}." for i in range(40)) + "\n\nThe GAE lambda here."
    kept = focus(text, "GAE lambda", 120)
    assert "GAE lambda" in kept and len(kept) < len(text)


@pytest.mark.slow
def test_real_model_answers_offline_with_sources(settings, monkeypatch):
    """The default model and the real index answer with outbound connections made to fail."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) \
                and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network disabled in this test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network disabled")))
    answer = Copilot(settings).ask("How does SAC tune its temperature?", k=3)
    assert answer.covered and answer.sources
    assert any(word in answer.answer.lower() for word in ("entropy", "alpha", "temperature"))
    assert answer.timings["first_token_s"] <= answer.timings["total_s"]


@pytest.mark.slow
def test_cli_ask_json_contract(settings):
    env = {"COPILOT_HOME": str(settings.home), "COPILOT_CORPUS": settings.corpus[0],
           "COPILOT_MAX_TOKENS": "64", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    models = Settings().models_dir  # reuse the assembled default model
    link = Path(settings.home) / "models"
    if models.exists() and not link.exists():
        link.symlink_to(models)
    proc = subprocess.run([sys.executable, "-m", "copilot", "ask", "What does GAE lambda trade?", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["answer"].strip() and data["sources"] and data["model"] == "qwen2.5-coder-0.5b"
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(data["timings"])
    bad = subprocess.run([sys.executable, "-m", "copilot", "ask", "x", "--model", "/nope/missing.gguf"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "missing.gguf" in bad.stderr
