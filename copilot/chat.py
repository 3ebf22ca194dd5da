"""Cited answers: retrieve -> prompt with numbered sources -> streamed answer.

The pipeline is a LangChain runnable chain (``retrieve | build_prompt | generate``) so each
stage can be swapped or traced; :class:`Copilot` wraps it with timings and chat history.

Sources are numbered [1]..[k] in the prompt; the answer cites them and :class:`Answer`
carries the sources actually cited (all retrieved ones if the model cited none). When
retrieval finds nothing relevant the answer says plainly that the corpus does not cover
the question instead of guessing.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
from langchain_core.runnables import RunnableGenerator, RunnableLambda

from copilot.bm25 import tokenize
from copilot.config import Settings
from copilot.evidence import Evidence, build_evidence, sentence_count, supporting_quote
from copilot.glossary_zh import expand
from copilot.llm import LLM, fit_sources, prompt_budget, resolve

SYSTEM = (
    "You are RL Copilot, an expert assistant for reinforcement learning and the rlcore library. "
    "Each question comes with numbered sources. Answer in 2 to 4 sentences of your own: start "
    "with a direct answer in plain words (say what each symbol or quantity means instead of only "
    "giving a formula), then add the most useful detail from the sources. Use only facts from the "
    "sources, keep their wording, and put the source number in square brackets after each "
    "sentence, like [1] or [2]. Answer in the language of the question."
)
NOT_COVERED = ("The indexed documentation does not cover this question, so I cannot answer it "
               "with a citation. Try rephrasing, or ingest documents that cover it "
               "(python -m copilot ingest PATH).")
CITE = re.compile(r"\[(\d{1,2})\]")


@dataclass
class Source:
    """A numbered source as shown to the model and the user."""

    n: int
    title: str
    path: str
    kind: str
    score: float
    text: str = ""


@dataclass
class Answer:
    answer: str
    sources: list[Source]
    model: str
    timings: dict[str, float] = field(default_factory=dict)
    covered: bool = True

    def to_json(self) -> dict[str, Any]:
        """The ``python -m copilot ask --json`` object."""
        return {"answer": self.answer,
                "sources": [{k: v for k, v in asdict(s).items() if k != "text"} for s in self.sources],
                "model": self.model, "timings": self.timings}


def focus(text: str, query: str, max_chars: int) -> str:
    """The parts of ``text`` most relevant to ``query``, in their original order.

    Paragraphs/lines are ranked by shared identifier-aware tokens; code blocks stay whole.
    """
    if len(text) <= max_chars:
        return text
    pieces = [p for p in re.split(r"\n\s*\n|(?<=[.!?])\s+(?=[A-Z])", text) if p.strip()]
    q = set(tokenize(query))
    scored = sorted(range(len(pieces)), key=lambda i: (-len(q & set(tokenize(pieces[i]))), i))
    keep, used = set(), 0
    for i in scored:
        if used + len(pieces[i]) > max_chars and keep:
            continue
        keep.add(i)
        used += len(pieces[i]) + 1
    return "\n".join(pieces[i] for i in sorted(keep))[: max_chars + 200]


def is_covered(hits: Sequence[Any], query: str) -> bool:
    """Whether retrieval found anything relevant: a lexical match or a close dense neighbour."""
    if not hits:
        return False
    best = hits[0]
    lexical = any(h.bm25_rank is not None for h in hits[:3])
    relevance = getattr(best, "relevance", None)
    if relevance is not None:
        return relevance >= 0.35 or (lexical and relevance >= 0.2)
    return lexical


def system_message() -> dict:
    """The chat's first message; the same for every question (see :func:`prime_chat`)."""
    return {"role": "system", "content": SYSTEM}


def prime_chat(llm: LLM) -> None:
    """Load ``llm`` and let it evaluate the fixed system message before the first question."""
    llm.prime([system_message()])


def user_message(sources: str, question: str) -> str:
    """The user turn: the numbered sources, then the question."""
    return f"Sources:\n{sources}\n\nQuestion: {question}"


def cited_numbers(answer: str, count: int) -> list[int]:
    """Source numbers cited in ``answer`` (in order of first citation, valid ones only)."""
    seen: list[int] = []
    for m in CITE.finditer(answer):
        n = int(m.group(1))
        if 1 <= n <= count and n not in seen:
            seen.append(n)
    return seen


class Copilot:
    """Retrieval + LLM with chat history. Constructing it loads nothing.

    Args:
        settings: resolved :class:`copilot.config.Settings`.
        llm: a backend (default: ``resolve(settings.model)``).
        index: a search index (default: ``Index.open(settings)`` on first use).
    """

    def __init__(self, settings: Settings, llm: LLM | None = None, index: Any = None):
        self.settings = settings
        self._llm = llm
        self._index = index
        self.chain = (RunnableLambda(self._retrieve) | RunnableLambda(self._prompt)
                      | RunnableGenerator(self._generate))

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = resolve(self.settings.model, self.settings)
        return self._llm

    @llm.setter
    def llm(self, value: LLM) -> None:
        self._llm = value

    @property
    def index(self):
        if self._index is None:
            from copilot.index import Index

            self._index = Index.open(self.settings)
        return self._index

    def warm(self) -> float:
        """Open the index, load the embedder and the LLM; return the seconds it took."""
        t0 = time.perf_counter()
        self.index.search("warm up", k=1)
        prime_chat(self.llm)
        return round(time.perf_counter() - t0, 3)

    # ----- chain stages ------------------------------------------------------------------
    def _retrieve(self, state: dict) -> dict:
        t0 = time.perf_counter()
        state["k"] = k = state.get("k") or self.settings.k
        hits = self.index.search(state["question"], k=k, kinds=state.get("kinds"))
        state["timings"]["retrieval_s"] = round(time.perf_counter() - t0, 4)
        state["covered"] = is_covered(hits, state["question"])
        state["hits"] = hits
        return state

    def _prompt(self, state: dict) -> dict:
        """System message = fixed instructions; user message = numbered sources + question.

        The system message never changes, so a backend that keeps its prompt state (llama.cpp)
        evaluates it once, at :meth:`warm`, and only the sources and question per answer.
        """
        llm, question = self.llm, state["question"]
        history = list(state.get("history") or [])[-4:]
        base = [system_message(), *history, {"role": "user", "content": user_message("", question)}]
        budget = min(prompt_budget(llm, base, self.settings.max_tokens), self.settings.context_tokens)
        evidence = self._evidence(question, state["hits"], llm, max(budget, 0), state["k"])
        blocks = [f"[{i}] {h.title}\n{text}" for i, (h, text) in enumerate(evidence.blocks, 1)]
        kept = fit_sources(llm, blocks, max(budget, 0))
        state["sources"] = [Source(i, h.title, h.path, h.kind, round(float(h.score), 5), kept[i - 1])
                            for i, (h, _) in enumerate(evidence.blocks[: len(kept)], 1)]
        state["quotes"] = [(n, text) for n, text in evidence.quotes
                           if n <= len(kept) and text in kept[n - 1]]
        state["messages"] = [system_message(), *history,
                             {"role": "user", "content": user_message("\n\n".join(kept), question)}]
        return state

    def _evidence(self, question: str, hits: Sequence[Any], llm: LLM, budget: int, k: int) -> Evidence:
        """The retrieved chunks cut down to the sentences that bear on ``question``."""
        if not hits:
            return Evidence([], [])
        reading = expand(question)
        query = reading.dense_query if reading.matched else question
        embedder = getattr(self.index, "embedder", None)
        if embedder is not None:
            embed, vector = embedder.embed_documents, embedder.embed_query(query)
        else:  # an index without an embedder: lexical scores only
            embed, vector = (lambda texts: np.zeros((len(texts), 1), np.float32)), np.zeros(1, np.float32)
        return build_evidence(query, hits, embed=embed, query_vector=vector, count_tokens=llm.count_tokens,
                              budget=budget, max_sources=k)

    def _generate(self, states: Iterator[dict]) -> Iterator[Any]:
        for state in states:
            yield state  # first item: the state with sources, before any token
            if not state["covered"] or not state["sources"]:
                yield NOT_COVERED
                continue
            yield from self.llm.stream(state["messages"], max_tokens=self.settings.max_tokens,
                                       temperature=self.settings.temperature)

    # ----- public API --------------------------------------------------------------------
    def stream(self, question: str, history: Sequence[dict] | None = None, k: int | None = None,
               kinds: Any = None) -> Iterator[str | Answer]:
        """Yield answer text pieces, then the final :class:`Answer` as the last item."""
        question = question.strip()
        if not question:
            raise ValueError("The question is empty; type a question about RL or rlcore.")
        t0 = time.perf_counter()
        state: dict[str, Any] = {"question": question, "history": history or [], "k": k,
                                 "kinds": kinds, "timings": {}}
        parts: list[str] = []
        final_state = state
        for item in self.chain.stream(state):
            if isinstance(item, dict):
                final_state = item
                continue
            if not parts:
                state["timings"]["first_token_s"] = round(time.perf_counter() - t0, 4)
            parts.append(item)
            yield item
        said = "".join(parts)
        quote = self._quote(said, final_state)
        if quote:
            parts.append(quote)
            yield quote
        text = "".join(parts).strip()
        timings = {"retrieval_s": state["timings"].get("retrieval_s", 0.0),
                   "first_token_s": state["timings"].get("first_token_s", round(time.perf_counter() - t0, 4)),
                   "total_s": round(time.perf_counter() - t0, 4)}
        yield self._answer(text, final_state, timings, said)

    @staticmethod
    def _quote(text: str, state: dict) -> str:
        """A one-sentence answer, or one that cites no source, is followed by the best source
        sentence it does not already say, so every answer shows where it comes from."""
        sources = state.get("sources") or []
        if not state.get("covered") or not sources:
            return ""
        if sentence_count(text) >= 2 and cited_numbers(text, len(sources)):
            return ""
        found = supporting_quote(text, state.get("quotes") or [])
        return f'\n\nFrom [{found[0]}]: "{found[1]}"' if found else ""

    def _answer(self, text: str, state: dict, timings: dict, said: str) -> Answer:
        """The final answer; its sources are those cited in ``text`` (the model's words ``said``
        plus any quote), or every source shown to the model when the model cited none."""
        sources: list[Source] = state.get("sources") or []
        covered = bool(state.get("covered")) and bool(sources)
        if covered:
            cited = cited_numbers(text, len(sources)) if cited_numbers(said, len(sources)) else []
            used = [sources[n - 1] for n in cited] if cited else sources
        else:
            used = []
        return Answer(text, used, self.llm.name, timings, covered)

    def ask(self, question: str, **kwargs: Any) -> Answer:
        """The complete :class:`Answer` (non-streaming)."""
        answer = None
        for item in self.stream(question, **kwargs):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer


