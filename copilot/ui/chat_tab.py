"""The Chat tab: streamed, cited answers with history, stop, regenerate and clear.

Answers arrive sentence by sentence, each one only after :mod:`copilot.grounding` checked it
against the sources, so nothing unsupported is ever on screen; every sentence ends with its
source marker and the footer says how many sentences were checked and removed.

Each browser tab owns a :class:`ChatSession` (a ``gr.State``), so chats never mix; the
model itself is shared and serialises generation.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator

import gradio as gr

from copilot.index import KINDS
from copilot.ui.jobs import pump
from copilot.ui.render import Turn, chat_messages, history_for_model
from copilot.ui.services import Services, one_sentence

log = logging.getLogger(__name__)
STREAM_EVERY_S = 0.08
EXAMPLES = ["What does the lambda of GAE trade off?", "How do I train PPO on CartPole with rlcore?",
            "PPO 的裁剪参数 clip 有什么作用？"]


class ChatSession:
    """One browser tab's chat: finished turns, the turn being answered and a stop flag."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.pending: Turn | None = None
        self.stop = threading.Event()

    def begin(self, question: str) -> bool:
        """Start answering ``question``; False when it is empty or an answer is running."""
        question = (question or "").strip()
        if not question or self.pending is not None:
            return False
        self.pending = Turn(question)
        self.stop.clear()
        return True

    def finish(self, turn: Turn) -> None:
        if self.pending is turn:
            self.turns.append(turn)
            self.pending = None

    def view(self) -> list[dict[str, Any]]:
        return chat_messages(self.turns, self.pending)


class _Stopped(Exception):
    """Stop was pressed before the answer started."""


def _wait_until_ready(services: Services, session: ChatSession) -> Iterator[str]:
    """Yield a waiting message while the model or index is still loading."""
    while not session.stop.is_set():
        models, state = services.models, services.index_state
        model_settled = models.ready or (models.loading is None and models.error)
        if model_settled and state in ("ready", "failed"):
            return
        yield f"Waiting for the model and index ({services.status_line()})…"
        time.sleep(0.5)


def answer_stream(services: Services, session: ChatSession, kinds: list[str] | None,
                  k: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Stream the pending turn's answer into the chat view; ends with the cited sources."""
    from copilot.chat import Answer, Copilot

    turn = session.pending
    if turn is None:
        yield session.view()
        return
    try:
        for note in _wait_until_ready(services, session):
            turn.note = note
            yield session.view()
        turn.note = ""
        if session.stop.is_set():
            raise _Stopped
        copilot = Copilot(services.settings, llm=services.models.get(0), index=services.index(0))
        history = history_for_model(session.turns)
        last = 0.0
        for item in pump(lambda: copilot.stream(turn.question, history=history, k=k or None,
                                                kinds=kinds or None), session.stop):
            if session.stop.is_set():
                break
            if isinstance(item, Answer):
                turn.sources, turn.model, turn.timings = item.sources, item.model, item.timings
                turn.answer, turn.support = item.answer, item.support
                turn.removed = sum(c.action == "dropped" for c in item.checks)
                continue
            turn.answer += item
            if time.monotonic() - last > STREAM_EVERY_S:
                last = time.monotonic()
                yield session.view()
    except _Stopped:
        pass
    except Exception as exc:  # noqa: BLE001 - the chat shows one sentence, the log the traceback
        log.warning("chat failed", exc_info=True)
        turn.note, turn.error = one_sentence(exc), True
    if session.stop.is_set() and not turn.note:
        turn.note = "Stopped."
    session.finish(turn)
    yield session.view()


def build(services: Services) -> None:
    """Lay out the Chat tab (call inside a ``gr.Tab``) and wire its events."""
    session = gr.State(ChatSession)
    chatbot = gr.Chatbot(elem_id="chatbot", height=520, show_label=False, feedback_options=None,
                         buttons=["copy"],
                         placeholder="Ask about reinforcement learning or rlcore; answers cite their "
                                     "sources.")
    with gr.Row(elem_classes="cp-bottom"):
        question = gr.Textbox(elem_id="chat-input", show_label=False, scale=8, lines=1, max_lines=6,
                              placeholder="Ask a question (Enter to send, Shift+Enter for a new line)")
        send = gr.Button("Send", variant="primary", scale=1, min_width=90, elem_id="chat-send")
    with gr.Row():
        stop = gr.Button("Stop", variant="stop", size="sm", elem_id="chat-stop")
        regen = gr.Button("Regenerate", size="sm", elem_id="chat-regen")
        clear = gr.Button("Clear", size="sm", elem_id="chat-clear")
    with gr.Accordion("Retrieval options", open=False):
        with gr.Row():
            kinds = gr.CheckboxGroup(list(KINDS), label="Only these kinds (none ticked: all)", scale=3)
            k = gr.Slider(1, 10, value=services.settings.k, step=1, label="Sources to retrieve", scale=1)
    gr.Examples(EXAMPLES, inputs=question, label="Examples")

    def begin(sess: ChatSession, text: str):
        if sess.begin(text):
            return "", sess.view()
        return gr.update(), sess.view()

    def redo(sess: ChatSession):
        if sess.pending is None and sess.turns:
            sess.begin(sess.turns.pop().question)
        return sess.view()

    def halt(sess: ChatSession) -> None:
        sess.stop.set()

    def wipe(sess: ChatSession):
        sess.stop.set()
        sess.turns, sess.pending = [], None
        return []

    def run(sess: ChatSession, kinds_v: list[str], k_v: float):
        yield from answer_stream(services, sess, kinds_v, int(k_v))

    answer_args = dict(fn=run, inputs=[session, kinds, k], outputs=chatbot, concurrency_id="llm",
                       concurrency_limit=1, show_progress="hidden")
    for trigger in (question.submit, send.click):
        trigger(begin, [session, question], [question, chatbot], queue=False).then(**answer_args)
    regen.click(redo, session, chatbot, queue=False).then(**answer_args)
    stop.click(halt, session, None, queue=False)
    clear.click(wipe, session, chatbot, queue=False)
    chatbot.clear(wipe, session, chatbot, queue=False)
