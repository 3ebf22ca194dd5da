"""Chat sessions: streaming into one tab's view, stop, errors, and tabs that never mix.

The real :class:`copilot.chat.Copilot` pipeline runs; only the model and the index are
fakes, to isolate the UI logic (the browser tests use the real ones).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from copilot.config import Settings
from copilot.index import Hit
from copilot.llm import LLM, ModelError
from copilot.ui.chat_tab import ChatSession, answer_stream
from copilot.ui.services import Services


class EchoLLM(LLM):
    """Streams a cited answer that repeats the question, word by word."""

    name = "echo"

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _stream(self, messages, *, max_tokens, temperature, stop, json_schema):
        question = messages[-1]["content"].rsplit("Question:", 1)[-1].strip().splitlines()[0]
        for word in f"About {question} see [1] .".split():
            time.sleep(self.delay)
            yield word + " "


class FakeIndex:
    def search(self, query, k=5, kinds=None):
        return [Hit("c1", "PPO: clipping", "corpus/papers/ppo.md", "paper", "The ratio is clipped.",
                    0.03, 1, 1),
                Hit("c2", "GAE", "corpus/papers/gae.md", "paper", "Lambda mixes returns.", 0.02, 2, 2)][:k]


def make_services(tmp_path: Path, delay: float = 0.0, model: str = "echo") -> Services:
    def resolver(spec, settings):
        if spec != "echo":
            raise ModelError(f"Model {spec!r} is not known; accepted: echo.")
        return EchoLLM(delay)

    services = Services(Settings(home=tmp_path, model=model), resolver, build_index=False)
    try:
        services.models.switch(model)
    except ModelError:
        pass
    services.set_index(FakeIndex())
    return services


def test_begin_refuses_empty_questions_and_a_second_answer(tmp_path: Path):
    session = ChatSession()
    assert not session.begin("   ")
    assert session.begin("What is PPO?")
    assert not session.begin("Another one")  # one answer at a time per tab


def test_answer_streams_then_shows_cited_sources(tmp_path: Path):
    services = make_services(tmp_path)
    session = ChatSession()
    session.begin("What is PPO?")
    views = list(answer_stream(services, session, None))
    final = views[-1]
    assert final[0] == {"role": "user", "content": "What is PPO?"}
    assert final[1]["content"].startswith("About What is PPO? see [1] .")
    assert final[2]["metadata"]["title"] == "[1] PPO: clipping · corpus/papers/ppo.md"
    assert len(final) == 3  # only the cited source
    assert session.pending is None and len(session.turns) == 1
    assert session.turns[0].model == "echo"


def test_history_goes_to_the_model_on_the_next_turn(tmp_path: Path):
    services = make_services(tmp_path)
    session = ChatSession()
    for q in ("first question", "second question"):
        session.begin(q)
        list(answer_stream(services, session, ["paper"], 2))
    assert [t.question for t in session.turns] == ["first question", "second question"]
    assert "second question" in session.turns[1].answer


def test_stop_keeps_the_partial_answer(tmp_path: Path):
    services = make_services(tmp_path, delay=0.05)
    session = ChatSession()
    session.begin("a question with several words to stream slowly")
    threading.Timer(0.2, session.stop.set).start()
    final = list(answer_stream(services, session, None))[-1]
    turn = session.turns[-1]
    assert turn.note == "Stopped." and not turn.error
    assert 0 < len(turn.answer) < len("About a question with several words to stream slowly see [1] . ")
    assert "*Stopped.*" in final[1]["content"]


def test_no_model_gives_one_readable_sentence(tmp_path: Path):
    services = make_services(tmp_path, model="missing")
    session = ChatSession()
    session.begin("What is PPO?")
    final = list(answer_stream(services, session, None))[-1]
    turn = session.turns[-1]
    assert turn.error and turn.note.startswith("No model is available yet (Model 'missing' is not known")
    assert "Traceback" not in final[1]["content"]


def test_two_sessions_at_once_do_not_mix(tmp_path: Path):
    services = make_services(tmp_path, delay=0.01)
    sessions = {"en": ChatSession(), "zh": ChatSession()}
    questions = {"en": "What does the PPO clip range do?", "zh": "PPO 的裁剪参数有什么作用？"}
    finals: dict[str, list] = {}

    def run(key: str) -> None:
        sessions[key].begin(questions[key])
        finals[key] = list(answer_stream(services, sessions[key], None))[-1]

    threads = [threading.Thread(target=run, args=(key,)) for key in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for key, other in (("en", "zh"), ("zh", "en")):
        text = " ".join(str(m["content"]) for m in finals[key])
        assert questions[key] in text and questions[other] not in text
        assert [t.question for t in sessions[key].turns] == [questions[key]]


def test_stop_before_the_answer_starts_skips_the_model(tmp_path: Path):
    services = make_services(tmp_path)
    llm = services.models.get(0)
    llm.count_tokens = None  # any use of the model would now fail loudly
    session = ChatSession()
    session.begin("What is PPO?")
    session.stop.set()
    final = list(answer_stream(services, session, None))[-1]
    assert session.turns[-1].note == "Stopped." and not session.turns[-1].error
    assert final[1]["content"] == "*Stopped.*"
