"""Cited answers: retrieve -> prompt with numbered sources -> checked, streamed answer.

The pipeline is a LangChain runnable chain (``retrieve | build_prompt | generate``) so each
stage can be swapped or traced; :class:`Copilot` wraps it with timings and chat history.

Sources are numbered [1]..[k]. The answer opens with the best evidence sentence, shown at
once, when it already has the answer's shape (a definition for "what is X", a reason for
"why", what to call or type for "how do I"); then the model's own
sentences follow, each checked by :mod:`copilot.grounding` before it is shown: kept when a
source supports it, replaced by the source sentence it garbled, or dropped. Every shown
sentence carries its source marker, and :class:`Answer` lists per-sentence support. A
Chinese question gets a Chinese lead-in and the quoted English sources. When retrieval finds
nothing relevant the answer declines in one sentence instead of guessing.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from langchain_core.runnables import RunnableGenerator, RunnableLambda

from copilot.bm25 import tokenize
from copilot.config import Settings
from copilot.evidence import (CODE_BLOCK, GENERIC_ENTITIES, INLINE_CODE, PRONOUN, WHY_QUESTION, Evidence,
                              build_evidence, claim_part, compared, flags, has_code, in_docs_words, key_terms, later_parts,
                              names_side, on_first_topic, speaks_of, split_units)
from copilot.glossary_zh import expand, question_form
from copilot.grounding import (Grounder, SourceSentence, Support, asked_sentences, choose_extract, cited, clause_of,
                               complete_sentences, content_tokens, context_terms, decline, defined_names,
                               denial_sentence, env_beside, is_chinese, lead_in, leads_in, left_off_list,
                               missing_terms, next_sentence, passing_terms, proper_words, quoted, repeats,
                               restore_case, source_first,
                               unknown_compound, unknown_flags, unknown_subject, unknown_target, unknown_variant, unknown_words,
                               unmentioned_feature, value_sentence, when_sentence, why_sentence)
from copilot.llm import LLM, fit_sources, prompt_budget, resolve
from copilot.vectors import TextVectors

SYSTEM = (
    "You are RL Copilot, an expert assistant for reinforcement learning and the rlcore library. "
    "Each question comes with numbered sources. Answer in 1 to 3 short sentences: first a direct "
    "answer in plain words, then the one detail that matters most. Use only facts the sources "
    "state, in their wording; give no number or default value that the sources do not state. "
    "Put the source number in square brackets after each sentence, like [1] or [2]."
)
CITE = re.compile(r"\[(\d{1,2})\]")
ANSWER_TOKENS = 90  # the model writes at most a few sentences after the extract
MAX_SENTENCES = 3
LEADS = 3  # a model sentence replaced by one of these evidence sentences may open the answer
VALUES = 3  # the values an answer may add ("the defaults of --seeds, --evals and --workers?")
NEXT_FROM = 4  # the best evidence sentences a one-sentence answer's next sentence is drawn from
WHY_EXTRA = 3  # passages beyond k that a "why" question's evidence may come from
COMMAND = re.compile(r"`(?:python -m )?rlcore [^`]*`|^python -m .*$", re.M)  # an example command line
COVER_DEPTH = 8  # hits searched for a name (or a flag) the question gives that no hit mentions (explains)
LATER_OVERLAP = 0.5  # an answer that has half the words of the later part's sentence has said it
# a user's report that rlcore turned something down ("... and rlcore refuses", "errors out")
REFUSED = re.compile(r"\b(?:refus(?:e|es|ed|ing)|rejects?|rejected|errors? out|fails?|failed|crash(?:es|ed)?|"
                     r"won'?t (?:work|run|accept|export|load))\b", re.I)
LATER_DEPTH = 3  # hits searched for a two-part question's later part, of which the best new one is read
RELEVANCE = 0.3  # below this best question-to-evidence similarity the docs do not cover it
# ... and below this one when the question holds words the corpus never uses ("alphazero"):
# measured on 293 questions, every not-covered one with such a word fell below 0.47, every
# answerable one stayed above 0.52
UNKNOWN_RELEVANCE = 0.47
# ... unless a hit is this relevant to the whole question (the ranker's calibrated relevance):
# "do I have to wipe the out folder?" is answered by the sweep page that never says "wipe"
# (0.93); the not-covered questions the rule declines stay below 0.68
UNKNOWN_HIT = 0.8


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
    support: list[Support] = field(default_factory=list)  # one per shown sentence
    checks: list[Support] = field(default_factory=list)  # every model sentence checked

    def to_json(self) -> dict[str, Any]:
        """The ``python -m copilot ask --json`` object."""
        return {"answer": self.answer,
                "sources": [{k: v for k, v in asdict(s).items() if k != "text"} for s in self.sources],
                "model": self.model, "timings": self.timings,
                "support": [s.to_json() for s in self.support]}


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


def example_fits(question: str, code: tuple[int, str], shown: Sequence[Support], sources: Sequence[Any]) -> bool:
    """Whether the example ``code`` (source number, text) belongs after the answer ``shown``:
    it comes from a page the answer cites, or it names a method the question names (PPO and
    A2C in a study's code); another page's commands are not "how" ("`rlcore list`" after
    "the device is chosen per agent")."""
    pages = {src.n: src.path for src in sources}
    if pages.get(code[0]) in {pages.get(s.source) for s in shown}:
        return True
    text = code[1].lower()
    return any(re.search(rf"(?<![\w-]){re.escape(t.lower())}(?![\w-])", text) for t in key_terms(question)
               if t.lower() not in GENERIC_ENTITIES)


def in_kept(item: tuple[int, str] | None, kept: Sequence[str]) -> bool:
    """Whether evidence ``item`` ((source number, text)) is in the source texts the prompt kept."""
    return item is not None and item[0] <= len(kept) and item[1] in kept[item[0] - 1]


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
        # misspelt words mended before anything reads the question ("targt" -> "target");
        # a decline still quotes the question as asked
        state["asked"] = state["question"]
        if hasattr(self.index, "correct"):
            state["question"] = self.index.correct(state["question"])
        state["k"] = k = state.get("k") or self.settings.k
        # the passage that gives a reason often ranks just below the k that describe the thing:
        # a "why" question draws its evidence from a few more (still at most k are cited)
        extra = WHY_EXTRA if WHY_QUESTION.search(state["question"]) else 0
        hits = self.index.search(in_docs_words(state["question"]), k=k + extra, kinds=state.get("kinds"))
        state["timings"]["retrieval_s"] = round(time.perf_counter() - t0, 4)
        state["covered"] = is_covered(hits, state["question"])
        # a question about a named thing (an acronym, a name, an identifier) that no hit
        # mentions is not covered, however close the hits are in meaning
        texts = [f"{h.title} {h.text}" for h in hits]
        # a name typed in lower case is read as the sources spell it ("rnd" -> "RND")
        state["question"] = restore_case(state["question"], texts)
        if hasattr(self.index, "knows"):
            hits = self._cover_names(state["question"], hits, state.get("kinds"))
            hits = self._cover_flags(state["question"], hits, state.get("kinds"))
        # a two-part question's later part is searched for on its own too ("..., and once I've set an
        # augmentation, how do I check the regulariser is active?" finds where `aug_loss` is logged);
        # so is a premise the question builds on ("since this subtracts the mean, won't it ...?");
        # both before asking what no source mentions ("what's eating my RAM?" finds "Memory grows")
        parts = [p for p in [*later_parts(state["question"]), claim_part(state["question"])] if p]
        searched = state["covered"] and bool(parts) and not is_chinese(state["question"])
        if searched:
            before = len(hits)
            for rest in parts:  # a source beyond the k the question itself draws on, per part
                hits = hits + self._best_new(rest, LATER_DEPTH, state.get("kinds"), hits,
                                             lambda h: on_first_topic(state["question"], f"{h.title} {h.text}"))
            state["added_sources"] = len(hits) - before
        # "my drqv2 policy ... rlcore refuses": what refuses it is documented where the action is
        # (the C export's page), which need not name the thing every hit is about
        if state["covered"] and REFUSED.search(state["question"]) and not is_chinese(state["question"]):
            for name in key_terms(state["question"]):
                if all(name.lower() in f"{h.title} {h.text}".lower() for h in hits[:k]):
                    aspect = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", state["question"])
                    added = self._best_new(aspect, LATER_DEPTH, state.get("kinds"), hits, lambda h: True)
                    hits, state["added_sources"] = hits + added, (state.get("added_sources") or 0) + len(added)
                    break
        texts = [f"{h.title} {h.text}" for h in hits]
        state["missing"] = (missing_terms(state["question"], texts)
                            or unmentioned_feature(state["question"], texts)
                            or (unknown_flags(state["question"], self.index.mentions)
                                if hasattr(self.index, "mentions") else [])
                            or (unknown_subject(state["question"], self.index.knows, texts)
                                if hasattr(self.index, "knows") else []))
        state["in_passing"] = False
        if not state["missing"]:  # a name no source mentions, or only in brackets ("(Dreamer)")
            named = passing_terms(state["question"], [h.title for h in hits], [h.text for h in hits],
                                  getattr(self.index, "headed", None))
            state["missing"] = [t for t, n in named if n == 0] or [t for t, _ in named]
            state["in_passing"] = bool(named) and all(n for _, n in named)
        # a name the docs hold, said only in the user's account of their situation ("I exported a
        # DQN run with ... What are the graph's input names?"), is context, not what is asked
        context = context_terms(state["question"])
        state["missing"] = [t for t in state["missing"]
                            if not (t in context and hasattr(self.index, "knows") and self.index.knows(t.lower()))]
        # nor is a name the user's own code defines, nor an environment the docs know that the
        # sources' list of environment ids leaves out ("pixels for LunarLander?": the list answers)
        own, mentions = defined_names(state["question"]), getattr(self.index, "mentions", None)
        state["missing"] = [t for t in state["missing"] if t not in own and not (
            mentions and (left_off_list(t, texts, mentions)
                          or env_beside(t, state["question"], texts, mentions)))]
        state["in_passing"] = state["in_passing"] and bool(state["missing"])
        state["covered"] = state["covered"] and not state["missing"]
        # a word no chunk holds, said only in the user's account of their situation ("(machine
        # rebooted)"), is no topic the docs lack
        asked = " ".join(asked_sentences(state["question"])[0])
        state["unknown"] = unknown_words(asked, self.index.knows) if hasattr(self.index, "knows") else []
        if state["covered"] and (target := unknown_target(state["question"], state["unknown"])):
            state["covered"], state["missing"] = False, target  # "... to Weights & Biases (wandb)?"
        if state["covered"] and mentions and (variant := unknown_variant(asked, state["unknown"], mentions)):
            state["covered"], state["missing"] = False, variant  # "hindsight experience replay"
        if state["covered"] and mentions and (compound := unknown_compound(asked, state["unknown"], mentions, texts)):
            state["covered"], state["missing"] = False, compound  # "ppo-lagrangian"
        if state["covered"] and not searched and (pair := compared(state["question"])):
            both = self._cover_sides(pair, hits, state.get("kinds"))
            hits, state["added_sources"] = both, len(both) - len(hits)
        state["hits"] = hits
        return state

    def _cover_sides(self, pair: tuple[str, str], hits: list, kinds: Any) -> list:
        """``hits`` and, for each of two compared things that no hit's title names, the best
        new hit of a search for it whose title does ("dueling vs double dqn" draws the Double
        DQN page too)."""
        added: list = []
        for side, other in (pair, pair[::-1]):
            if any(names_side(content_tokens(h.title), side, other) for h in hits + added):
                continue
            added += self._best_new(side, LATER_DEPTH, kinds, hits + added,
                                    lambda h: names_side(content_tokens(h.title), side, other))
        return hits + added

    def _cover_flags(self, question: str, hits: list, kinds: Any) -> list:
        """``hits`` with room made for the passage that explains a command-line flag the
        question names when the hits show it only in example commands ("what happens if I set
        --evals to 0?" finds the section that says `--evals 0` turns pruning off): the best
        deeper hit that names it in prose comes second."""
        def explains(hit: Any, flag: str) -> bool:  # in prose, not in an example command
            prose = COMMAND.sub(" ", CODE_BLOCK.sub(" ", hit.text))
            return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", prose) is not None

        added: list = []
        for flag in flags(question):
            if any(explains(h, flag) for h in hits + added):
                continue
            # the flag alone when the question's other words lead elsewhere
            added += (self._best_new(question, COVER_DEPTH, kinds, hits + added, lambda h: explains(h, flag))
                      or self._best_new(flag, COVER_DEPTH, kinds, hits + added, lambda h: explains(h, flag)))
        return (hits[:1] + added + hits[1:])[:len(hits)]

    def _cover_names(self, question: str, hits: list, kinds: Any) -> list:
        """``hits`` with room made for a name the question gives that none of them mentions
        (a method named beside others: "what is RE3 and when would I pick it over RND?" finds
        RND's pages only; an environment family in a Chinese question): its best hit, searched
        for with the other names taken out (or for the name alone), comes second."""
        names = key_terms(question)
        absent = [t for t in missing_terms(question, [f"{h.title} {h.text}" for h in hits])
                  if t in names and self.index.knows(t.lower())]
        # a capitalised word inside a sentence names something too ("Our Breakout run's curve ..."),
        # though the check for absent names does not count it: the docs that hold it are sought
        # (as written: "a tuple of tensors" does not speak of a Tuple space)
        said = " ".join(f"{h.title} {h.text}" for h in hits)
        absent += [w for w in proper_words(question) if w not in names
                   and not re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", said) and self.index.mentions(w.lower())]
        # not a name only the user's pasted code gives (`{"clip_param": 0.1, "normalize_obs": True}`.
        # what does rlcore call the clip param?"), unless the question asks about it in words
        if absent:
            pasted = (set(key_terms(" ".join(INLINE_CODE.findall(question))))
                      - set(key_terms(INLINE_CODE.sub(" ", question))))
            asked = content_tokens(" ".join(asked_sentences(question)[0]))
            absent = [t for t in absent if t not in pasted or content_tokens(t.replace("_", " ")) <= asked]
        if not absent:
            return hits
        added: list = []
        for term in absent:
            alone = question
            for other in names:
                if other != term:
                    alone = re.sub(rf"(?<![\w-]){re.escape(other)}(?![\w-])", " ", alone)

            def names_it(h: Any, term: str = term) -> bool:
                """Whether hit ``h`` names ``term`` as the check for absent names reads names ("ALE",
                not the "ale" of "scaled"); a capitalised word, which it reads as no name, as written."""
                text = f"{h.title} {h.text}"
                return not missing_terms(term, [text]) if term in names else term.lower() in text.lower()

            # the name stressed, then alone, when the question's other words lead elsewhere
            added += (self._best_new(alone, COVER_DEPTH, kinds, hits + added, names_it)
                      or (term not in names and self._best_new(f"{term} {alone}", 3 * COVER_DEPTH, kinds,
                                                               hits + added, names_it))
                      or self._best_new(term, COVER_DEPTH, kinds, hits + added, names_it))
        return (hits[:1] + added + hits[1:])[:len(hits)]

    def _best_new(self, query: str, depth: int, kinds: Any, hits: list, fits: Callable[[Any], bool]) -> list:
        """The best of the ``depth`` hits of ``query`` that is not among ``hits`` and ``fits``, as a
        list of one (empty when none does)."""
        seen = {h.id for h in hits}
        return [h for h in self.index.search(in_docs_words(query), k=depth, kinds=kinds)
                if h.id not in seen and fits(h)][:1]

    def _prompt(self, state: dict) -> dict:
        """System message = fixed instructions; user message = numbered sources + question.

        The system message never changes, so a backend that keeps its prompt state (llama.cpp)
        evaluates it once, at :meth:`warm`, and only the sources and question per answer.
        """
        llm, question = self.llm, state["question"]
        history = list(state.get("history") or [])[-4:]
        base = [system_message(), *history, {"role": "user", "content": user_message("", question)}]
        budget = min(prompt_budget(llm, base, self.settings.max_tokens), self.settings.context_tokens)
        evidence = self._evidence(question, state["hits"], llm, max(budget, 0),
                                  state["k"] + state.get("added_sources", 0))
        blocks = [f"[{i}] {h.title}\n{text}" for i, (h, text) in enumerate(evidence.blocks, 1)]
        kept = fit_sources(llm, blocks, max(budget, 0))
        state["sources"] = [Source(i, h.title, h.path, h.kind, round(float(h.score), 5), kept[i - 1])
                            for i, (h, _) in enumerate(evidence.blocks[: len(kept)], 1)]
        state["quotes"] = [(n, text) for n, text in evidence.quotes
                           if n <= len(kept) and text in kept[n - 1]]
        state["answers"] = evidence.answers
        state["later"] = [x for x in evidence.later if in_kept(x, kept)]
        state["claim"] = evidence.claim if in_kept(evidence.claim, kept) else None
        state["sides"] = [(side, other, said) for side, other, said in evidence.sides if in_kept(said, kept)]
        state["code"] = evidence.code if in_kept(evidence.code, kept) else None
        # a model sentence may stand on, or be replaced by, any source sentence but those about
        # another method than the one asked about
        state["units"] = [SourceSentence(s.n, unit) for s in state["sources"]
                          for unit in split_units(s.text.split("\n", 1)[1] if "\n" in s.text else s.text)
                          if unit not in evidence.elsewhere]
        if getattr(self.index, "embedder", None) is not None:  # else no similarity to judge by
            state["covered"] = state["covered"] and evidence.relevance >= RELEVANCE
            if (state["covered"] and state["unknown"] and evidence.relevance < UNKNOWN_RELEVANCE
                    and max(getattr(h, "relevance", 0.0) for h in state["hits"]) < UNKNOWN_HIT):
                state["covered"], state["missing"] = False, state["unknown"]
        state["messages"] = [system_message(), *history,
                             {"role": "user", "content": user_message("\n\n".join(kept), question)}]
        return state

    def _evidence(self, question: str, hits: Sequence[Any], llm: LLM, budget: int, k: int) -> Evidence:
        """The retrieved chunks cut down to the sentences that bear on ``question``."""
        if not hits:
            return Evidence([], [])
        reading = expand(question)
        # a Chinese question is scored in English: its terms, led by its form ("why", "how do I"),
        # or its form and the names and flags it gives in Latin letters ("--evals 设成 0 会发生什么")
        english = reading.matched or (is_chinese(question) and question_form(question))
        query = f"{question_form(question)} {reading.dense_query}".strip() if english else question
        embedder = getattr(self.index, "embedder", None)
        if embedder is not None:
            embed, vector = self._unit_embed(), embedder.embed_query(query)
        else:  # an index without an embedder: lexical scores only
            embed, vector = (lambda texts: np.zeros((len(texts), 1), np.float32)), np.zeros(1, np.float32)
        return build_evidence(query, hits, embed=embed, query_vector=vector, count_tokens=llm.count_tokens,
                              budget=budget, max_sources=k,
                              embed_query=embedder.embed_query if embedder is not None and not english else None)

    def _generate(self, states: Iterator[dict]) -> Iterator[Any]:
        """The checked answer, yielded sentence by sentence (see :meth:`_answer_sentences`)."""
        for state in states:
            yield state  # first item: the state with sources, before any token
            question = state["question"]
            state["support"] = shown = []
            # a Chinese question's topic, for choosing what to quote, is its English reading
            subject = content_tokens(expand(question).dense_query) if is_chinese(question) else None
            # a question of two parts ("what is X? why Y?") is quoted at more length
            limit = 3 if subject is not None and len(re.findall(r"[?？]", question)) >= 2 else 2
            extract = (choose_extract(question, state["quotes"], limit, subject, state.get("answers"))
                       if state["covered"] else [])
            if not extract:
                yield decline(state.get("asked", question), state.get("missing") or (), state.get("in_passing", False))
                continue
            units = [(u.n, u.text) for u in state.get("units", [])]
            if is_chinese(question):  # the checker reads English: quote the sources
                yield lead_in(question)
                for n, text in extract:
                    shown.append(quoted(question, n, text))
                    yield cited(shown[-1])
                # the value the quotes left out ("beta 默认是多少？"), the source's denial ("是不是先减去均值？")
                for more in (value_sentence(question, shown, state.get("quotes", [])),
                             denial_sentence(question, shown, units, expand(question).dense_query)):
                    if more is not None and not repeats(more[1], shown):
                        shown.append(quoted(question, *more))
                        yield cited(shown[-1])
            else:
                first = source_first(question, extract)
                if first is not None:  # the source states the answer: shown before the model's turn
                    shown.append(first)
                    yield cited(first)
                for s in self._answer_sentences(state, extract):
                    yield (" " if shown else "") + cited(s)
                    shown.append(s)
                # "what is X and when should I use it?", "what is the default k?", "why X?": a
                # condition, a value or a reason the answer left out
                documents = {src.n: src.path for src in state.get("sources", [])}
                for part in (partial(when_sentence, documents=documents), *[value_sentence] * VALUES,
                             partial(why_sentence, documents=documents)):
                    more = part(question, shown, state.get("quotes", [])) if shown else None
                    if more is not None:
                        shown.append(quoted(question, *more))
                        yield " " + cited(shown[-1])
                # "clip_range is the gradient clipping threshold, right?": the source's denial of it
                if shown and (denial := denial_sentence(question, shown, units)) is not None:
                    shown.append(quoted(question, *denial))
                    yield " " + cited(shown[-1])
                # "I thought it decays over half the run": what the sources say on that claim
                elif (claim := state.get("claim")) and shown and not repeats(claim[1], shown, LATER_OVERLAP):
                    shown.append(quoted(question, *claim))
                    yield " " + cited(shown[-1])
                # "what are n-step returns, and how do I switch them on?": the sentence that answers
                # the later part, when the answer has not said it
                for later in state.get("later", []) if shown else []:
                    if not repeats(later[1], shown, LATER_OVERLAP):
                        shown.append(quoted(question, *later))
                        yield " " + cited(shown[-1])
                # "dueling vs double dqn": what each of the two things is, when no sentence said it
                for side, other, said in state.get("sides", []) if shown else []:
                    if not any(speaks_of(s.sentence, side, other) for s in shown) and not repeats(said[1], shown,
                                                                                                  LATER_OVERLAP):
                        shown.append(quoted(question, *said))
                        yield " " + cited(shown[-1])
            if (state.get("code") and not any(has_code(s.sentence) for s in shown)
                    and example_fits(question, state["code"], shown, state.get("sources", []))):
                shown.append(Support(state["code"][1], state["code"][0], 1.0, "quoted"))
                yield "\n\n" + cited(shown[-1])

    def _answer_sentences(self, state: dict, extract: list[tuple[int, str]]) -> Iterator[Support]:
        """The model's sentences that survive the check; the best evidence sentence when none
        survives; ends with an evidence sentence when only one sentence was shown. The answer
        opens with the model's first sentence that the check keeps, or replaces by one of the
        best evidence sentences (the sentence the model aimed at reads the question better
        than word overlap), so a dropped first sentence gives way to the next; a replacement
        from further down the evidence waits behind the best evidence sentence."""
        question, shown = state["question"], state["support"]
        lead = quoted(question, *extract[0])
        best = {quoted(question, n, text).sentence for n, text in state.get("quotes", [])[:LEADS]}
        for s in self._checked_model_sentences(state):
            if s.action == "replaced" and repeats(s.sentence, shown):
                # a long sentence that repeats the answer: the clause the model took from it
                part = clause_of(s.sentence, content_tokens(s.said) & content_tokens(s.sentence))
                s = replace(s, sentence=part) if not repeats(part, shown) else s
            if not shown and s.action == "replaced" and s.sentence not in best:
                yield lead
            if s.action != "dropped" and not repeats(s.sentence, shown) and not leads_in(s.sentence):
                yield s
            if len(shown) >= MAX_SENTENCES:
                return
        if not shown:
            yield lead
        if len(shown) == 1:  # one more evidence sentence, when it adds to the first: the best one
            # when the answer opened with another ("During training the returns written to the logs
            # are per-life sums of clipped rewards" after what `agent.evaluate()` returns)
            more = (extract[0] if not repeats(lead.sentence, shown) and not PRONOUN.match(lead.sentence) else
                    next_sentence(question, shown, extract + state.get("quotes", [])[:NEXT_FROM],
                                  self._similarity(question)))
            if more is not None:
                yield quoted(question, *more)

    def _similarity(self, question: str) -> Callable[[str], float] | None:
        """A sentence's embedding cosine to ``question``; None without an embedder."""
        embedder = getattr(self.index, "embedder", None)
        if embedder is None:
            return None
        vector, embed = np.asarray(embedder.embed_query(question), dtype=np.float32), self._unit_embed()
        return lambda text: float(embed([text])[0] @ vector)

    def _checked_model_sentences(self, state: dict) -> Iterator[Support]:
        """The model's answer, sentence by sentence, each checked by :mod:`copilot.grounding`."""
        grounder = Grounder(state["units"], self._embed(), {s.n: s.text for s in state["sources"]},
                            question=state["question"], source_embed=self._unit_embed())
        state["checks"] = checks = []
        pieces = self.llm.stream(state["messages"], max_tokens=min(self.settings.max_tokens, ANSWER_TOKENS),
                                 temperature=self.settings.temperature)
        for raw in complete_sentences(pieces):
            s = grounder.check(raw, [x.sentence for x in state["support"]])
            checks.append(s)
            yield s

    def _embed(self):
        embedder = getattr(self.index, "embedder", None)
        if embedder is None:  # an index without an embedder: lexical support only
            return lambda texts: np.zeros((len(texts), 1), np.float32)
        return embedder.embed_documents

    def _unit_embed(self):
        """``embed`` for evidence sentences and titles: vectors kept once per index
        (:attr:`copilot.index.Index.units`), so a sentence met before costs a lookup, not the embedder."""
        units = getattr(self.index, "units", None)
        return self._embed() if units is None else units.embed

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
        text = "".join(parts).strip()
        if isinstance(units := getattr(self.index, "units", None), TextVectors):
            units.save()  # after the answer, so writing the file never delays it
        timings = {"retrieval_s": state["timings"].get("retrieval_s", 0.0),
                   "first_token_s": state["timings"].get("first_token_s", round(time.perf_counter() - t0, 4)),
                   "total_s": round(time.perf_counter() - t0, 4)}
        yield self._answer(text, final_state, timings)

    def _answer(self, text: str, state: dict, timings: dict) -> Answer:
        """The final answer; its sources are those its sentences cite."""
        sources: list[Source] = state.get("sources") or []
        covered = bool(state.get("covered")) and bool(sources)
        used = [sources[n - 1] for n in cited_numbers(text, len(sources))] if covered else []
        return Answer(text, used, self.llm.name, timings, covered, list(state.get("support") or []),
                      list(state.get("checks") or []))

    def ask(self, question: str, **kwargs: Any) -> Answer:
        """The complete :class:`Answer` (non-streaming)."""
        answer = None
        for item in self.stream(question, **kwargs):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer


