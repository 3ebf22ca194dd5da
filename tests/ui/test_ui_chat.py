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
from copilot.llm import ModelError
from copilot.ui.chat_tab import ChatSession, answer_stream
from copilot.ui.services import Services
from fake_llm import FakeLLM


RATIO = "PPO clips the probability ratio so one update stays small."
SAID = "PPO clips the probability ratio so each update stays small [2]. It was first used on the moon."


def EchoLLM(delay: float = 0.0) -> FakeLLM:  # noqa: N802 - stands where a class stood
    """Streams a fixed answer word by word (one sentence a source supports, one it does not)
    and records the messages it was given."""
    return FakeLLM([word + " " for word in SAID.split()], name="echo", tokens="words", delay=delay)


def hit(*args) -> Hit:
    """A search hit that answers the query (calibrated relevance where the index reports one)."""
    extra = {"relevance": 0.8} if "relevance" in Hit.__dataclass_fields__ else {}
    return Hit(*args, **extra)


class FakeIndex:
    def search(self, query, k=5, kinds=None):
        return [hit("c1", "PPO: clipping", "corpus/papers/ppo.md", "paper", RATIO, 0.03, 1, 1),
                hit("c2", "GAE", "corpus/papers/gae.md", "paper", "Lambda mixes the n-step returns of PPO.",
                    0.02, 2, 2)][:k]


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


def test_answer_streams_checked_sentences_then_shows_cited_sources(tmp_path: Path):
    services = make_services(tmp_path)
    session = ChatSession()
    session.begin("What is PPO clipping?")
    views = list(answer_stream(services, session, None))
    final = views[-1]
    assert final[0] == {"role": "user", "content": "What is PPO clipping?"}
    # the supported sentence is shown with its source's marker; the unsupported one never
    assert final[1]["content"].startswith(RATIO + " [1]")
    assert all("moon" not in str(m["content"]) for view in views for m in view)
    assert final[2]["metadata"]["title"] == "[1] PPO: clipping · corpus/papers/ppo.md"
    assert session.pending is None and len(session.turns) == 1
    assert session.turns[0].model == "echo" and session.turns[0].support


def test_history_goes_to_the_model_on_the_next_turn(tmp_path: Path):
    services = make_services(tmp_path)
    session = ChatSession()
    for q in ("What is PPO clipping?", "Why does PPO clip the ratio?"):
        session.begin(q)
        list(answer_stream(services, session, ["paper"], 2))
    assert [t.question for t in session.turns] == ["What is PPO clipping?", "Why does PPO clip the ratio?"]
    seen = services.models.get(0).seen[-1]
    assert {"role": "user", "content": "What is PPO clipping?"} in seen
    assert {"role": "assistant", "content": session.turns[0].answer} in seen


def test_stop_keeps_the_checked_part_of_the_answer(tmp_path: Path):
    services = make_services(tmp_path, delay=0.05)
    session = ChatSession()
    session.begin("What is PPO clipping?")
    threading.Timer(0.9, session.stop.set).start()
    final = list(answer_stream(services, session, None))[-1]
    turn = session.turns[-1]
    assert turn.note == "Stopped." and not turn.error
    assert "moon" not in turn.answer and "*Stopped.*" in final[1]["content"]


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
    questions = {"en": "What does the PPO clip ratio do?", "zh": "PPO 的裁剪参数有什么作用？"}
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
    session.begin("What is PPO clipping?")
    session.stop.set()
    final = list(answer_stream(services, session, None))[-1]
    assert session.turns[-1].note == "Stopped." and not session.turns[-1].error
    assert final[1]["content"] == "*Stopped.*"
