"""Sentence support: every sentence of an answer is checked against the evidence shown.

The evidence is split into *source sentences* (the units of :mod:`copilot.evidence`, each
tagged with the number of the source it came from). A sentence of the answer is scored
against each source sentence:

    score = 0.5 * cosine(answer sentence, source sentence)     (MiniLM embeddings)
          + 0.5 * share of the answer sentence's content words found in the source sentence

and its support is the best-scoring source sentence. Numbers are checked token by token: a
number the sentence states must appear in the supporting source, or the sentence is not
supported, whatever its score. Then (:func:`check`):

* supported (score >= ``SUPPORTED``, numbers stated by the source, at most ``NEW_WORDS``
  content words that neither the source sentence nor the question has, and no term of the
  question put where the source has another): kept, cited to the source that supports it
  (a wrong citation is corrected);
* close to one source sentence but not supported (score >= ``GARBLED``; it says something
  the source does not: other words, or numbers the source does not state): replaced by
  that source sentence, cited;
* otherwise dropped.

Sentences in another script than the evidence (a Chinese sentence over English docs) cannot
be checked this way and are dropped; a Chinese question is answered with a Chinese lead-in
and the quoted source sentences instead (:func:`lead_in`).

Answer shape (:func:`choose_extract`): the answer opens with the best evidence sentence,
a definition when the question asks what something is or does, then the model's checked
sentences, or the next best evidence sentence when the model adds nothing supported.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from copilot.bm25 import tokenize
from copilot.evidence import (ANSWER_WORDS, BELIEVED, CODE_BLOCK, CONDITION, CONFIRM, DEFAULT_ASKED, DEFINES, DEFINITION_QUESTION, FRAGMENT,
                              GENERIC_ENTITIES, HOW_TO, INLINE_CODE, LIST_MARKER, METHOD, NAME_QUESTION, NOT_ABBREVIATION, PRONOUN, REASON, REGISTRATION,
                              SIGNATURE, STEPS, VALUE_NUMBER, VALUE_QUESTION, VALUE_WORDS, WHEN_QUESTION, WHY_QUESTION,
                              advises, asked_fields, defines, entity_terms, field_value, first_part, flags, gives_default,
                              has_code, is_statement, key_terms, mentions, named_fields, only_where, others_named, prose, said_as, value_of)

SUPPORTED = 0.8  # calibrated on model answers over the corpus (see bench/copilot.py --support)
GARBLED = 0.5
NEW_WORDS = 2  # a kept sentence may add at most this many content words of its own
CUT_WORDS = 3  # a kept sentence that is a source sentence's tail without this many opening words is cut
CITE = re.compile(r"\s*\[(\d{1,2})\]")
NUMBER = re.compile(r"(?<![A-Za-z_\d.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
SENTENCE_END = re.compile(r"(?<=[.!?])" + NOT_ABBREVIATION + r"\s+(?=[A-Z`(\[*\"'\u4e00-\u9fff])|(?<=[。！？])")
CJK = re.compile(r"[\u3400-\u9fff]")
YES_NO = re.compile(r"^\s*(?:yes|no)\s*[,.!;:]\s+(?=\S)", re.I)  # not "No auxiliary losses are needed."
SO = re.compile(r", so\b|\bso (that|the|it|they|its|a|an)\b|\bto (avoid|keep|prevent|reduce|make|ensure)\b", re.I)
PREAMBLE = re.compile(r"^(?:(?:the |my |a )?(?:direct |short |final )?answer(?: is)?\s*:\s*|in plain words,?\s*)", re.I)
POINTER = re.compile(r"\b(this|these|those|it|they)\b", re.I)  # words that point to what came before
CONDITIONAL = re.compile(r"^(?:when|if|unless|once|only when|as long as|with|without)\b([^,;]{3,120}),", re.I)
CUT_SHARE = 1.6  # a source sentence this many times longer than the piece the model kept
CAUSE_OVERLAP = 0.7  # share of a stated cause's words that its source sentence must hold
CAUSE = re.compile(r"\b(because|since|so that|therefore|thus|hence|which (reduces|prevents|avoids|makes|keeps|"
                   r"ensures|allows|lets|helps)|in order to|due to|as a result)\b", re.I)
# a cause given for what the question asked, pointed at by "this": "This is because the bonus is added ..."
BACK_CAUSE = re.compile(r"^\s*(?:this|that|it)(?:\s+is|'s|\s+happens|\s+occurs|\s+was)?\s+(?:mainly\s+|mostly\s+)?"
                        r"(?:because|due to)\b", re.I)
STOP = frozenset("a an and are as at be been by can could do does for from has have how i if in into "
                 "is it its of on or so such than that the their then there these this those to "
                 "was were what when where which while who why will with would you your we our "
                 "also only each more most not no one used use uses using".split())

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class SourceSentence:
    """One sentence (or list item, table row, code block) of numbered source ``n``."""

    n: int
    text: str


@dataclass
class Support:
    """The check of one answer sentence: what is shown, its source and its score."""

    sentence: str  # as shown in the answer, without the citation marker
    source: int | None  # the number of the supporting source
    score: float
    action: str = "kept"  # kept | replaced | dropped | quoted
    said: str = ""  # the model's sentence when it was replaced or dropped

    def to_json(self) -> dict:
        return {"sentence": self.sentence, "source": self.source, "score": round(self.score, 3)}


@dataclass
class Checked:
    """A checked answer: the sentences to show and every check made."""

    shown: list[Support] = field(default_factory=list)
    checks: list[Support] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(cited(s) for s in self.shown)


def cited(s: Support) -> str:
    """``s`` as answer text: the sentence, then its source marker."""
    body = s.sentence.rstrip()
    if s.source is None:
        return body
    if has_code(body):  # a code block, or a sentence with the block it introduces
        return f"{body}\n[{s.source}]"
    return f"{body} [{s.source}]"


def content_tokens(text: str) -> set[str]:
    return {t for t in tokenize(text, stemmed=True) if t not in STOP and len(t) > 1}


def numbers(text: str) -> set[str]:
    """The numbers ``text`` states, normalised (``0.50`` and ``.5`` read as ``0.5``)."""
    out = set()
    for m in NUMBER.finditer(CITE.sub(" ", text)):
        raw = m.group(0).lstrip("+")
        try:
            out.add(repr(float(raw)))
        except ValueError:
            continue
    return out


def split_answer(text: str) -> list[str]:
    """The sentences and code blocks of an answer, in order, each with its citation markers."""
    out: list[str] = []
    pos = 0
    for m in CODE_BLOCK.finditer(text):
        out.extend(_sentences(text[pos:m.start()]))
        out.append(m.group(0).strip())
        pos = m.end()
    out.extend(_sentences(text[pos:]))
    return out


def _sentences(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)", text):
        for piece in SENTENCE_END.split(" ".join(para.split())):
            if len(piece.strip(" -*#>|")) > 2:
                out.append(piece.strip())
    return out


def strip_citations(sentence: str) -> tuple[str, list[int]]:
    """The sentence without its ``[n]`` markers, and the numbers it cited."""
    cites = [int(m.group(1)) for m in CITE.finditer(sentence)]
    bare = CITE.sub("", sentence).strip()
    bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
    cut = PREAMBLE.sub("", bare)  # "The direct answer is: X" -> "X": the instructions echoed
    if cut != bare and cut[:1].isalpha():
        cut = cut[:1].upper() + cut[1:]
    return cut, cites


class Grounder:
    """Scores answer sentences against the source sentences of one answer's evidence.

    ``embed`` returns unit vectors for a list of texts (the copilot's MiniLM embedder);
    ``source_embed`` (default ``embed``) is used for the source sentences, which come back
    answer after answer (the copilot passes its per-index cache, :mod:`copilot.vectors`).
    """

    def __init__(self, sources: Sequence[SourceSentence], embed: Embed,
                 source_texts: dict[int, str] | None = None, question: str = "",
                 source_embed: Embed | None = None) -> None:
        self.sources = [s for s in sources if s.text.strip()]
        self.asked = content_tokens(question)  # words a sentence may repeat from the question
        pair = COMPARED.search(question or "")  # "terminated vs truncated", "between A and B"
        self.compared = set().union(*(content_tokens(g) for g in pair.groups() if g)) if pair else set()
        self.topic = self.asked - GENERIC  # the question's own subject words
        self._question = embed([question])[0] if question and self.sources else None
        self.embed = embed
        self._tokens = [content_tokens(s.text) for s in self.sources]
        self._vectors = (source_embed or embed)([s.text for s in self.sources]) if self.sources else np.zeros((0, 1))
        texts = source_texts or {}
        # a source's title (its text's first line) names what its sentences speak of
        self._titles = {n: content_tokens(t.split("\n", 1)[0]) for n, t in texts.items()}
        self._headings = {n: content_tokens(t.split("\n", 1)[0].rsplit(">", 1)[-1]) for n, t in texts.items()}
        self._numbers = {n: numbers(t) for n, t in texts.items()}
        for s in self.sources:
            self._numbers.setdefault(s.n, set()).update(numbers(s.text))
        self._code_names = {m.lower() for t in [*texts.values(), *(s.text for s in self.sources)]
                            for m in CODE_NAME.findall(t)}

    def invents_code(self, sentence: str) -> bool:
        """Whether the code of ``sentence`` (a block or a span) uses a flag, a keyword argument
        or a call that no source has: `--normalise` in a `rlcore report` command the model
        wrote after the docs' example. Prose may paraphrase; code must be the docs' own."""
        code = " ".join(CODE_BLOCK.findall(sentence) + INLINE_CODE.findall(sentence))
        return any(m.lower() not in self._code_names for m in CODE_NAME.findall(code))

    def scores(self, sentence: str) -> np.ndarray:
        """The support score of ``sentence`` against every source sentence."""
        words = content_tokens(sentence)
        cosine = self._vectors @ self.embed([sentence])[0]
        lexical = np.array([len(words & toks) / len(words) if words else 0.0 for toks in self._tokens])
        return 0.5 * np.clip(cosine, 0.0, 1.0) + 0.5 * lexical

    def score(self, sentence: str) -> tuple[float, int | None]:
        """The best support score of ``sentence`` and the index of its source sentence."""
        if not self.sources:
            return 0.0, None
        scores = self.scores(sentence)
        best = int(np.argmax(scores))
        return float(scores[best]), best

    def garbled(self, sentence: str, shown: Sequence[str]) -> int | None:
        """The source sentence ``sentence`` garbled: of those it is close to (score at least
        ``GARBLED``) and that can stand in an answer, the one closest to the question too."""
        scores = self.scores(sentence)
        ranked = scores.copy()
        if self._question is not None:
            ranked += 0.5 * np.clip(self._vectors @ self._question, 0.0, 1.0)
        for i in np.argsort(-ranked, kind="stable"):
            text = self.sources[i].text
            # not where X lives in rlcore (it says nothing of X), nor "It fits PPO ...", whose
            # "it" is its own section's subject, not the sentence it would replace
            if (scores[i] >= GARBLED and is_statement(text) and _as_sentence(text) not in shown
                    and not REGISTRATION.search(text) and not self._other_subject(self.sources[i])):
                return int(i)
        return None

    def _other_subject(self, source: SourceSentence) -> bool:
        """Whether ``source`` opens with "It"/"This" under a heading that names none of the
        question's topic ("It fits PPO and A2C ..." under "Beta"), so its subject is not the
        question's; under "What does the entropy coefficient do?" its "It" is the topic."""
        return bool(PRONOUN.match(_as_sentence(source.text))) and not (self._headings.get(source.n, set()) & self.topic)

    def new_words(self, sentence: str, best: int) -> int:
        """Content words of ``sentence`` that neither its source sentence nor the question has."""
        return len(content_tokens(sentence) - self._tokens[best] - self.asked)

    def swaps_terms(self, sentence: str, best: int) -> bool:
        """Whether ``sentence`` puts one of the question's terms where its source sentence has
        another ("terminated means ..." over a source that says "truncated means ...")."""
        words, source = content_tokens(sentence), self._tokens[best]
        if (words - source) & self.asked and (source - words) & self.asked:
            return True
        # the same words, but the sentence opens with another of the question's terms than its
        # source does ("Terminated means ... a time limit" over "`truncated` means ...")
        first, told = self._first_asked(sentence), self._first_asked(self.sources[best].text)
        return first is not None and told is not None and first != told

    def _first_asked(self, text: str) -> str | None:
        """Which of the two things the question compares ("terminated vs truncated") ``text``
        names first, in its first six words; None for a question that compares nothing."""
        for word in re.findall(r"[A-Za-z][\w-]*", text)[:6]:
            toks = content_tokens(word) & self.compared
            if toks:
                return min(toks)
        return None

    def borrows_topic(self, sentence: str, best: int) -> bool:
        """Whether ``sentence`` says of the question's topic what its source sentence says of
        something else: a topic word that the source sentence does not have (nor its source's
        title, for a sentence opening with "It"/"This") ("Reward shaping adds a bonus ..." over
        "Intrinsic rewards add a bonus ...")."""
        source = self.sources[best]
        borrowed = (content_tokens(sentence) & self.topic) - self._tokens[best]
        if PRONOUN.match(source.text):  # "It adds ..." speaks of its section's title
            borrowed -= self._titles.get(source.n, set())
        return bool(borrowed)

    def cut_from(self, sentence: str, best: int) -> bool:
        """Whether ``sentence`` is a piece cut from a longer source sentence that drops the
        condition it opens with, or leaves a pointer to the rest unresolved ("V-trace is the correction that makes this safe" from
        "Because the actors lag behind, the data are off-policy; V-trace is ... this safe")."""
        words, source = content_tokens(sentence), self._tokens[best]
        if not words <= source | self.asked:
            return False
        # the source's opening condition left out: "V-trace reduces to the on-policy n-step
        # target" from "When pi = mu and rho_bar = c_bar = 1, V-trace reduces to ..."
        condition = CONDITIONAL.match(self.sources[best].text)
        if condition and not content_tokens(condition.group(1)) & words:
            return True
        # the source sentence's tail, its subject cut off: "rlcore's own first: `clip_param` suggests
        # ..." from "A name other libraries use suggests rlcore's own first: ..."
        whole, tail = (" ".join(t.split()).rstrip(".").lower() for t in (self.sources[best].text, sentence))
        cut = whole[:-len(tail)] if tail and len(tail) < len(whole) and whole.endswith(tail) else ""
        if len(cut.split()) >= CUT_WORDS and not cut.rstrip().endswith((";", ":", ".", "!", "?")):
            return True  # (what follows ";" or "." is a whole clause)
        return bool(POINTER.search(sentence)) and len(source) >= CUT_SHARE * max(len(words), 1)

    def numbers_stated(self, sentence: str, n: int) -> bool:
        """Whether every number in ``sentence`` is stated by source ``n``."""
        return numbers(sentence) <= self._numbers.get(n, set())

    def check(self, raw: str, shown: Sequence[str] = ()) -> Support:
        """Check one answer sentence; ``shown`` holds the sentences already in the answer."""
        sentence, _cites = strip_citations(raw)
        # a bare "Yes," or "No," is the model's verdict, which no source states; the rest is checked
        if verdict := YES_NO.match(sentence):
            sentence = sentence[verdict.end():]
            sentence = sentence[:1].upper() + sentence[1:]
        if DANGLING.search(sentence) or sentence.rstrip().endswith(":"):  # "So the TD target is.",
            # "From the CLI:": a sentence cut before its point, or the lead-in of what it never shows
            return Support(sentence, None, 0.0, "dropped", said=sentence)
        if CJK.search(sentence) and not any(CJK.search(s.text) for s in self.sources):
            return Support(sentence, None, 0.0, "dropped", said=sentence)
        if self.asked and content_tokens(sentence) <= self.asked:
            # a verdict in the question's own words ("TD3 is better there." for "is TD3 better
            # there or is it a wash?"): its words are in some source whatever the source says
            return Support(sentence, None, 0.0, "dropped", said=sentence)
        score, best = self.score(sentence)
        if best is None:
            return Support(sentence, None, 0.0, "dropped", said=sentence)
        source = self.sources[best]
        stated = self.numbers_stated(sentence, source.n)
        if (score >= SUPPORTED and stated and self.new_words(sentence, best) <= NEW_WORDS
                and not self.swaps_terms(sentence, best) and not self.borrows_topic(sentence, best)
                and not SIGNATURE.search(source.text)
                and not invents_cause(sentence, source.text) and not stutters(sentence)
                and not invents_comparison(sentence, source.text)
                and not adds_negation(sentence, source.text)
                and not swaps_roles(sentence, source.text) and not circular(sentence)
                and not takes_place_of(sentence, source.text) and not swaps_word(sentence, source.text)
                and not self.invents_code(sentence)
                and not FRAGMENT.match(sentence)  # "a run trained with ... so you feed raw observations;"
                and not misbinds_number(sentence, source.text) and not misplaces_number(sentence, source.text)):
            if self.cut_from(sentence, best):  # the whole statement, not a tail that says "this"
                return Support(_as_sentence(source.text), source.n, 1.0, "replaced", said=sentence)
            return Support(_as_sentence(sentence), source.n, score, "kept")  # a list item's words, not its dash
        swap = self.garbled(sentence, shown) if score >= GARBLED else None
        if swap is not None:
            source = self.sources[swap]
            return Support(_as_sentence(source.text), source.n, 1.0, "replaced", said=sentence)
        return Support(sentence, source.n, score, "dropped", said=sentence)


# what code names that a user would type as it stands: a flag, a keyword argument, a call
CODE_NAME = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*|\b[A-Za-z_]\w*(?=\s*=(?!=))|\b[A-Za-z_][\w.]*(?=\()")
NAMED = re.compile(r"`([A-Za-z_][\w.-]*)`|(?<![\w-])([A-Z][A-Za-z]*[A-Z0-9][\w-]*)(?![\w-])")


def _named(text: str) -> list[tuple[int, str]]:
    """Where ``text`` names a method, an agent or a field (an acronym or a literal), by position."""
    return [(m.start(), (m.group(1) or m.group(2)).lower()) for m in NAMED.finditer(text)
            if (m.group(1) or m.group(2)).lower() not in GENERIC_ENTITIES]


def misbinds_number(sentence: str, source: str) -> bool:
    """Whether ``sentence`` gives one thing a number its source gives another: "the default
    learning_starts for SAC is 1,000" over "default 1,000 for `dqn` and 100 for `sac`". Each
    number the sentence states must stand, somewhere in the source, nearest to a name the
    sentence names (thousands separators aside)."""
    said, told = (re.sub(r"(?<=\d),(?=\d{3}\b)", "", t) for t in (sentence, source))
    names = {n for _, n in _named(said)}
    places = _named(told)
    if not names or not places:
        return False
    for m in NUMBER.finditer(said):
        at = [n.start() for n in NUMBER.finditer(told) if numbers(n.group()) == numbers(m.group())]
        if at and all(min(places, key=lambda p: abs(p[0] - i))[1] not in names for i in at):
            return True
    return False


def _number_clauses(text: str) -> list[tuple[set[str], set[str]]]:
    """Each clause of ``text`` (split at commas, semicolons, brackets) that states a number:
    (its numbers, its content words other than numbers)."""
    out = []
    for part in re.split(r"[,;:()]", re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)):
        if said := numbers(part):
            out.append((said, {t for t in content_tokens(part) if not re.fullmatch(r"[\d.e+-]+", t)}))
    return out


MISPLACED_WORDS = 2  # content words a number's clause shares with another number's clause of the source


def misplaces_number(sentence: str, source: str) -> bool:
    """Whether ``sentence`` gives a number of its source the words the source gives another
    number: "130 is an unexpected failure" over "..., 1 for an unexpected failure (...), 130 when
    interrupted with Ctrl-C" (the words of 130's clause are those of 1's, none of its own)."""
    told = _number_clauses(source)
    for said, words in _number_clauses(sentence):
        for number in said:
            own = [w for n, w in told if number in n]
            other = [w for n, w in told if number not in n]
            if (own and not any(words & w for w in own)
                    and any(len(words & w) >= MISPLACED_WORDS for w in other)):
                return True
    return False


DANGLING = re.compile(r"\b(?:is|are|was|were|be|the|a|an|of|to|by|with|for|and|or|as|that|which|in|on|from|"
                      r"than|into|its|their)\s*[.:]\s*$", re.I)


def stutters(sentence: str, n: int = 4) -> bool:
    """Whether ``sentence`` says the same ``n`` words twice ("one gradient step per short
    rollout ... one gradient step per short rollout"): a small model looping, whatever the
    overlap with a source says."""
    words = re.findall(r"[a-z0-9_]+", sentence.lower())
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


CLAUSE = re.compile(r"[,;:()]|\b(?:while|whereas|but|and|whilst|although|unlike)\b", re.I)


def _clauses(text: str) -> list[set[str]]:
    return [toks for part in CLAUSE.split(text) if part and (toks := content_tokens(part))]


def swaps_roles(sentence: str, source: str, min_shared: int = 2) -> bool:
    """Whether ``sentence`` says of one of two things what its source sentence says of the
    other: "terminated episodes bootstrap from the final observation, truncated ones never
    do" over "a truncated episode bootstraps from its final observation, one that terminated
    never does". Two words ``a`` and ``b`` that both sentences name in separate clauses trade
    places: at least ``min_shared`` other shared words sit with ``a`` in the source and with
    ``b`` (never with ``a``) in the sentence."""
    said, told = _clauses(sentence), _clauses(source)
    if len(said) < 2 or len(told) < 2:
        return False
    shared = set().union(*said) & set().union(*told)

    def apart(clauses: list[set[str]], a: str, b: str) -> bool:
        return not any(a in c and b in c for c in clauses) and any(a in c for c in clauses) and any(b in c for c in clauses)

    def near(clauses: list[set[str]], a: str, b: str) -> set[str]:
        return set().union(*[c for c in clauses if a in c and b not in c]) if clauses else set()

    for a in shared:
        for b in shared:
            if a < b and apart(said, a, b) and apart(told, a, b):
                for x, y in ((a, b), (b, a)):
                    moved = (near(told, x, y) & near(said, y, x)) - near(said, x, y) - {a, b}
                    if len(moved) >= min_shared:
                        return True
    return False


COMPARED = re.compile(r"\b([\w-]+)\s+(?:vs\.?|versus)\s+([\w-]+)|\bbetween\s+(?:the\s+)?([\w-]+)\s+and\s+(?:the\s+)?([\w-]+)",
                      re.I)
LITERAL = re.compile(r"`[^`]+`")
COPULA = re.compile(r"^(?P<subject>.{3,90}?)\s+(?:is|are)\s+(?P<rest>.+)$", re.S)


def circular(sentence: str, share: float = 0.75) -> bool:
    """Whether ``sentence`` defines a thing by itself ("The inverse dynamics model in ICM is a
    feature space trained by an inverse dynamics model"): most of its subject's words, two at
    least, or a literal of its subject (`-dim(A)`), come back after its "is"."""
    m = COPULA.match(sentence)
    if not m:
        return False
    if set(LITERAL.findall(m.group("subject"))) & set(LITERAL.findall(m.group("rest"))):
        return True  # "The target entropy `-dim(A)` is learned as `-dim(A)`"
    subject, rest = content_tokens(m.group("subject")), content_tokens(m.group("rest"))
    back = subject & rest
    return len(back) >= 2 and len(back) >= share * len(subject)


def _preceding(words: Sequence[str], span: int) -> dict[tuple[str, ...], set[str]]:
    """Each run of ``span`` words of ``words`` -> the words that come right before it."""
    before: dict[tuple[str, ...], set[str]] = {}
    for i in range(len(words) - span):
        before.setdefault(tuple(words[i + 1:i + 1 + span]), set()).add(words[i])
    return before


def takes_place_of(sentence: str, source: str, span: int = 3) -> bool:
    """Whether ``sentence`` puts a word of its source where the source has another of its
    words: "Terminated episodes are truncated when the task itself ends" over "An episode is
    terminated when the task itself ends and truncated when a time limit cut it short" (the
    ``span`` words after "truncated" are those that follow "terminated" in the source, and the
    sentence has "terminated" too)."""
    said, told = re.findall(r"[a-z0-9_]+", sentence.lower()), re.findall(r"[a-z0-9_]+", source.lower())
    before, named = _preceding(told, span), _identifiers_before(told, span)
    known, used = set(told), set(said)

    def other_identifier(word: str, run: tuple[str, ...]) -> bool:  # every place names another
        return "_" in word and all(named[run]) and not any(word in n for n in named[run])

    # both words are in the sentence, each where the source has the other: no dropped "therefore";
    # or one identifier of the source where it has another ("try `normal_noise` when ..." over
    # "try `ou_noise` when ..."), which no dropped word explains
    return any(len(word) >= 5 and word in known and (owners := before.get(run := tuple(said[i + 1:i + 1 + span])))
               and word not in owners and (any(len(o) >= 5 and o in used for o in owners)
                                           or other_identifier(word, run))
               for i, word in enumerate(said[:len(said) - span]))


def _identifiers_before(words: Sequence[str], span: int,
                        reach: int = 4) -> dict[tuple[str, ...], list[set[str]]]:
    """Each run of ``span`` words -> for each place it occurs, the identifiers (``a_b``) among the
    ``reach`` words before it: "(`normal_noise`, the default) explores as well" names
    `normal_noise` as what "explores as well"."""
    out: dict[tuple[str, ...], list[set[str]]] = {}
    for i in range(1, len(words) - span + 1):
        out.setdefault(tuple(words[i:i + span]), []).append({w for w in words[max(0, i - reach):i] if "_" in w})
    return out


def swaps_word(sentence: str, source: str, span: int = 3, reach: int = 8) -> bool:
    """Whether ``sentence`` joins a word of one clause of its source to the words of the next in
    place of the word it leaves out: "The pruning backend does not prune either" over "`--evals 0`
    turns pruning off; the serial backend does not prune either" ("serial" is gone, and the
    ``span`` words after "pruning" are those after "serial", across the semicolon). Words left out
    within a clause ("better on harder tasks" for "better than DDPG on harder tasks") join none."""
    said = re.findall(r"[a-z0-9_]+", sentence.lower())
    told = re.findall(r"[a-z0-9_]+|[;:.()]", source.lower())
    before = _preceding([t for t in told if t[0].isalnum()], span)
    used = set(said)

    def joins(word: str, after: tuple[str, ...]) -> bool:  # across a clause's end within ``reach`` words
        for j, t in enumerate(told):
            if t != word:
                continue
            ahead = told[j + 1:j + 1 + reach + span]
            alnum = [(k, w) for k, w in enumerate(ahead) if w[0].isalnum()]
            for n in range(len(alnum) - span + 1):
                if tuple(w for _, w in alnum[n:n + span]) == after:
                    return any(not w[0].isalnum() for w in ahead[:alnum[n][0]])
        return False

    for i, word in enumerate(said[:len(said) - span]):
        after = tuple(said[i + 1:i + 1 + span])
        owners = before.get(after)
        if (len(word) >= 5 and word not in STOP and owners and word not in owners
                and all(len(o) >= 4 and o not in STOP and o not in used for o in owners) and joins(word, after)):
            return True
    return False


NOT = r"not|no|never|cannot|nor"  # the words that deny (and "n't")
NEGATION = re.compile(rf"\b(?:{NOT}|none|nothing|without|neither|unless)\b|n't\b", re.I)


def adds_negation(sentence: str, source: str) -> bool:
    """Whether ``sentence`` denies something where its source denies nothing: "The id is not
    registered in your module" over "The same id works in Python: ..." turns the source's
    words into a claim it never makes."""
    return bool(NEGATION.search(prose(sentence))) and not NEGATION.search(prose(source))


def invents_cause(sentence: str, source: str) -> bool:
    """Whether ``sentence`` claims a cause ("X because Y", "so that", "which reduces") that
    its source sentence states no cause for: a small model joins two true facts with a
    "because" that no source makes, the most convincing kind of wrong answer."""
    m = CAUSE.search(sentence)
    if not m:
        return False
    if BACK_CAUSE.match(sentence):  # "This is because ...": the source never names what "this" is
        return True
    if not (CAUSE.search(source) or SO.search(source)):
        return True
    # the source gives a reason: the sentence's must be mostly the source's own words
    claim = content_tokens(sentence[m.end():])
    return bool(claim) and len(claim & content_tokens(source)) < CAUSE_OVERLAP * len(claim)


LONG_SENTENCE = 40  # words: a sentence this long buries the clause a model sentence took from it


def clause_of(text: str, words: set[str]) -> str:
    """The shortest clause of a long sentence ``text`` (the parts between its semicolons) that
    holds ``words``, opens a statement of its own and points to nothing outside it, as a
    sentence; else ``text``. "It eats about 1.2 GB" from a five-line sentence on replay memory
    is "rlcore's `drqv2` defaults to 50,000 transitions, about 1.2 GB with its default 3
    stacked 64x64 grey frames." """
    pieces = [p.strip(" .") for p in re.split(r";\s+", text)]
    if len(pieces) < 2 or len(text.split()) < LONG_SENTENCE or CODE_BLOCK.search(text):
        return text
    pieces = [p for p in pieces if not re.match(r"(?:and|or|but|so|then)\b", p)]  # "and the latest ..."
    pieces = [p[:-1] if p.endswith(")") and p.count(")") > p.count("(") else p for p in pieces]  # "(a; b)"
    fits = [p for p in pieces if len(p.split()) > CUT_WORDS and words <= content_tokens(p) and not POINTER.search(p)]
    return min(fits, key=len) + "." if fits else text


# a comparison a sentence makes: "more efficient than nature_cnn", "faster than SAC"
COMPARES = re.compile(r"\b(?:more|less|fewer|better|worse|faster|slower|larger|smaller|bigger|higher|lower|cheaper|"
                      r"stronger|weaker|simpler|easier|harder|safer|stabler)\b[^.;:]{0,40}?\bthan\b", re.I)


def invents_comparison(sentence: str, source: str) -> bool:
    """Whether ``sentence`` ranks one thing above another ("impala_cnn is more efficient than
    nature_cnn") where its source compares nothing: the model's verdict, not the docs'."""
    return bool(COMPARES.search(prose(sentence))) and not re.search(r"\b(?:than|unlike|compared)\b", source, re.I)


def _as_sentence(text: str) -> str:
    item = LIST_MARKER.sub("", text.strip())
    if item != text.strip() and (first := re.match(r"[a-z]+\b", item)) and first.group() in STOP:
        # an item that goes on from its list's lead-in ("- with more than one environment,
        # normalises ...;") reads as a sentence of its own (a field it names keeps its case:
        # "- tau (float, default 1.0): ...")
        item = item[0].upper() + re.sub(r"\s*[;,]$", ".", item[1:])
    text = item
    if text.startswith("|"):  # a table row: its cells, joined
        text = "; ".join(c.strip() for c in text.strip("|").split("|") if c.strip())
    return text


def check_answer(text: str, grounder: Grounder) -> Checked:
    """Check every sentence of ``text``; the result shows kept and replacing sentences."""
    out = Checked()
    for raw in split_answer(text):
        s = grounder.check(raw, [x.sentence for x in out.shown])
        out.checks.append(s)
        if s.action in ("kept", "replaced") and not _repeats(s.sentence, out.shown):
            out.shown.append(s)
    return out


def _repeats(sentence: str, shown: Sequence[Support], overlap: float = 0.8) -> bool:
    """Whether ``sentence`` says mostly what a shown sentence says, or mostly repeats one."""
    words = content_tokens(sentence)
    if not words:
        return True
    for s in shown:
        other = content_tokens(s.sentence)
        common = len(words & other)
        if common >= overlap * len(words) or (other and common >= overlap * len(other)):
            return True
    return False


# ----- answer shape ----------------------------------------------------------------------
GENERIC = frozenset(t for w in ("rlcore mean means meaning role difference between default defaults value work "
                                 "works happen purpose field setting option").split()
                    for t in tokenize(w, stemmed=True))  # as sentence matching spells them ("purpos")


def is_chinese(text: str) -> bool:
    return bool(CJK.search(text))


def choose_extract(question: str, quotes: Sequence[tuple[int, str]], limit: int = 2,
                   subject: set[str] | None = None, answers: Mapping[str, str] | None = None
                   ) -> list[tuple[int, str]]:
    """Up to ``limit`` evidence sentences to show, best first; a definition leads when the
    question asks what something is or does (``subject``: the English words of its topic).
    ``answers``: the question heading a quote answers (it opens that section), whose words
    count as the quote's own when the lead is chosen."""
    quotes = [(n, t) for n, t in quotes if t.strip()]
    quotes = [(n, t) for n, t in quotes if not leads_in(t)] or quotes  # what it leads in to says more
    if not quotes:
        return []
    words = (subject if subject is not None else content_tokens(question)) - GENERIC
    # of the best three, the one that names most of the question's topic leads (rank breaks ties)
    # (where a method is registered leads only when nothing else is there)
    best = [q for q in quotes[:3] if not only_where(question, q[1])] or quotes[:3]
    if NAME_QUESTION.search(question):  # "which config field ...?": a sentence that names one
        best = [q for q in best if INLINE_CODE.search(q[1])] or best
    elif HOW_TO.search(question) and not is_chinese(question):  # "how do I ...?": what to call or type
        best = [q for q in best if STEPS.search(q[1])] or best
    heading = answers or {}
    said = {t: content_tokens(f"{heading.get(t, '')} {t}") for _, t in quotes}
    # a word few quotes share names the topic more than one all of them share ("mean" and
    # "subtract" over "dueling" and "head" for why the dueling head subtracts the mean)
    weight = {w: math.log(1 + len(quotes) / (1 + sum(w in toks for toks in said.values()))) for w in words}
    lead = max(best, key=lambda q: sum(weight[w] for w in words & said[q[1]]))
    if DEFINITION_QUESTION.search(question):
        for n, text in quotes[:4]:
            toks = content_tokens(text)
            if only_where(question, text):  # where it lives in rlcore, not what it is
                continue
            if words and (defines(text, words) or len(words & toks) / len(words) >= 0.5
                          and DEFINES.search(INLINE_CODE.sub(" ", text)[:160])):
                lead = (n, text)
                break
    chosen = [lead]
    for n, text in quotes:
        if len(chosen) >= limit:
            break
        if (n, text) != lead and not _repeats(text, [Support(t, m, 1.0) for m, t in chosen]):
            chosen.append((n, text))
    return chosen


def quoted(question: str, n: int, text: str) -> Support:
    """A source sentence shown as it stands (quoted in a Chinese answer)."""
    text = _as_sentence(text)
    if is_chinese(question):  # quote the words; an example the sentence introduces follows the quote
        words, fence, code = text.partition("```")
        text = f"“{words.rstrip()}”" + (f"\n{fence}{code}" if fence else "")
    return Support(text, n, 1.0, "quoted")


# a question rather than a search for keywords
QUESTION_FORM = re.compile(r"\?|？|^\s*(what|why|how|which|who|when|where|can|could|does|do|is|are|should|"
                           r"will|would|explain|define|describe|list|show|tell|give|compare)\b", re.I)


# a short sentence that counts what the next ones name: "NGU combines two novelty signals."
COUNTS = re.compile(r"\b(?:two|three|four|five|several|a few|these|the following)\b", re.I)


def leads_in(text: str) -> bool:
    """Whether ``text`` announces what the sentences after it say rather than saying it."""
    return len(prose(text).split()) < ANSWER_WORDS and bool(COUNTS.search(text))


def source_first(question: str, extract: Sequence[tuple[int, str]]) -> Support | None:
    """The source sentence to show at once, before the model has written anything, when the
    extract's lead already has the shape of the answer: for "what is / what does X do", it
    opens with the question's topic and says what it is or does; for "why", it names most of
    the topic and gives a reason; for "how do I", it names most of the topic and says what to
    call or type; for keywords without a question ("GAE lambda"), it names most of them. Else
    None, and the answer waits for the model's first checked sentence."""
    if not extract or is_chinese(question):
        return None
    n, text = extract[0]
    topic = content_tokens(question) - GENERIC
    if not is_statement(text) or not topic or leads_in(text):
        return None
    names_topic = len(topic & content_tokens(prose(text))) >= len(topic) / 2  # in its words, not its code
    if WHY_QUESTION.search(question):
        fits = names_topic and bool(REASON.search(text))
    elif HOW_TO.search(question):
        fits = names_topic and bool(STEPS.search(text))
    elif not QUESTION_FORM.search(question):  # keywords ("GAE lambda"): what the source says of them
        fits = names_topic
    else:
        fits = bool(DEFINITION_QUESTION.search(question)) and defines(text, topic)
    return quoted(question, n, text) if fits else None


CLOSE = 0.55  # a sentence at least this similar to the question (embedding cosine) is on its point


def follows_on(question: str, first: Support, n: int, text: str, similarity: float | None = None) -> bool:
    """Whether source sentence ``text`` (of source ``n``) may follow ``first`` in an answer:
    it comes from the same source, names a thing the question names (RND, SAC), names most
    of the question's topic in its own words, is close to the question in meaning
    (``similarity`` at least ``CLOSE``), or says what to call or type for a how-to question. A sentence from elsewhere that shares one word with
    the question ("The action-value function Q(s, a) is ..." after why SAC keeps two
    critics) is filler, not a detail."""
    if n == first.source:
        return True
    if PRONOUN.match(text):  # "It is part of rlcore ...": its "it" is another source's subject
        return False
    if (similarity is not None and similarity >= CLOSE) or (HOW_TO.search(question) and STEPS.search(text)):
        return True  # close in meaning, or the next step of a how-to, from any source
    words = content_tokens(prose(text))
    if any(mentions(e, words) for e in entity_terms(question)):
        return True
    topic = content_tokens(question) - GENERIC
    return bool(topic) and len(topic & words) > len(topic) / 2


def next_sentence(question: str, shown: Sequence[Support], candidates: Sequence[tuple[int, str]],
                  similarity: Callable[[str], float] | None = None) -> tuple[int, str] | None:
    """The evidence sentence to follow a one-sentence answer: the best of ``candidates`` (best
    first) that says something new and follows on from it (:func:`follows_on`; ``similarity``
    gives a sentence's closeness to the question); None when none qualifies."""
    for n, text in dict.fromkeys(candidates):
        if not repeats(text, shown) and follows_on(question, shown[0], n, text,
                                                   similarity(text) if similarity else None):
            return n, text
    return None


def follow_up(question: str, shown: Sequence[Support], candidates: Sequence[tuple[int, str]],
              fits: Callable[[str], Any], documents: Mapping[int, str] | None = None
              ) -> tuple[int, str] | None:
    """The best of ``candidates`` that ``fits``, can stand as a sentence of its own and says
    something new, from a source the answer cites, the most relevant source (``[1]``), another
    passage of a document the answer cites (``documents`` maps a source number to its
    document), or one that names the first thing the question names ("Pixel control with an
    off-policy learner: RE3 ..." for "when would I pick RE3 over RND?"); else None."""
    cited_sources, entities = {s.source for s in shown} | {1}, entity_terms(question)
    if documents:
        cited_docs = {documents.get(n) for n in cited_sources} - {None}
        cited_sources |= {n for n, doc in documents.items() if doc in cited_docs}
    for n, text in dict.fromkeys(candidates):
        on_subject = n in cited_sources or bool(entities) and entities[0] <= content_tokens(prose(text))
        if (on_subject and fits(text) and is_statement(text) and not PRONOUN.match(text)
                and not repeats(text, shown)):
            return n, text
    return None


def when_sentence(question: str, shown: Sequence[Support], candidates: Sequence[tuple[int, str]],
                  documents: Mapping[int, str] | None = None) -> tuple[int, str] | None:
    """For a question that asks when ("what is X and when should I use it?") whose answer so
    far states no condition, the best of ``candidates`` that advises when (:func:`follow_up`);
    else None."""
    if not WHEN_QUESTION.search(question) or any(CONDITION.search(s.sentence) for s in shown):
        return None
    return follow_up(question, shown, candidates, advises, documents)


def why_sentence(question: str, shown: Sequence[Support], candidates: Sequence[tuple[int, str]],
                 documents: Mapping[int, str] | None = None) -> tuple[int, str] | None:
    """For a question that asks why whose answer so far gives no reason (it says what or how),
    the best of ``candidates`` that gives one (:func:`follow_up`); else None."""
    if not WHY_QUESTION.search(question) or any(REASON.search(s.sentence) for s in shown):
        return None
    return follow_up(question, shown, candidates, REASON.search, documents)


# a question that puts a claim to be confirmed: "..., right?", "I thought it decays ...", "is it X?"
PREMISE = re.compile(rf"\b(?:{CONFIRM}|no)\s*[?？]|{BELIEVED}"
                     r"|\b(?:isn't|aren't|doesn't|don't) (?:it|they|that|those)\b"
                     r"|(?:^|[.?!]\s+)(?:is|are|does|do|did|can|will|should|so)\b[^.?!]*\?|\b(?:since|because) it\b"
                     r"|是不是|是否|对吗|吗[?？]", re.I)
# a negation and the clause it denies, to the clause's end: "It is not gradient clipping: ..."
DENIAL = re.compile(rf"(?:\b(?:{NOT})\b|n't\b)([^.;:,()]{{3,80}})", re.I)
DENIED_WORDS = 2  # words of the question a denied clause must name


def denies(asked: set[str], text: str, entities: Sequence[set[str]] = ()) -> bool:
    """Whether ``text`` denies what a question whose content words are ``asked`` puts forward: a
    clause it negates names two or more of them ("It does not subtract a mean" for "... since
    it subtracts the running mean, right?"), and its subject no method but the question's
    ``entities`` ("SAC, TD3 and DDPG do not clip gradients" denies nothing said of PPO)."""
    text = prose(text)
    return any(len(content_tokens(m.group(1)) & asked) >= DENIED_WORDS
               and not others_named(re.split(r"[;:]", text[:m.start()])[-1], entities)
               for m in DENIAL.finditer(text))


def denial_sentence(question: str, shown: Sequence[Support], units: Sequence[tuple[int, str]],
                    reading: str | None = None) -> tuple[int, str] | None:
    """For a question that puts a claim forward ("clip_range is the gradient clipping threshold,
    right?"), the sentence of a source the answer cites that denies it ("It is not gradient
    clipping: ..."), when the answer has not said it; ``units`` are the sources' sentences in
    order, ``reading`` a Chinese question's words in English. A sentence that opens with "it"
    or "this" qualifies only right after a shown sentence of its source, whose subject it
    names. Else None."""
    asked, entities = content_tokens(reading or question), entity_terms(reading or question)
    if not PREMISE.search(question) or any(denies(asked, s.sentence, entities) for s in shown):
        return None
    cited = {s.source for s in shown}
    previous: tuple[int, str] | None = None
    for n, text in units:
        after, previous = previous, (n, text)
        if n not in cited or not is_statement(text) or repeats(text, shown) or not denies(asked, text, entities):
            continue
        if PRONOUN.match(text) and not (after and after[0] == n and repeats(after[1], shown)):
            continue
        return n, text
    return None


def value_sentence(question: str, shown: Sequence[Support], candidates: Sequence[tuple[int, str]]
                   ) -> tuple[int, str] | None:
    """For a question that asks for a number ("the default alpha", "how many neighbours"),
    the best of ``candidates`` that states one the answer lacks: the value of the first
    config field the question names (a word the sources write as code: "default alpha and
    beta") whose value the answer does not state yet; for a question naming no field, one
    about its topic while the answer states no number at all. Else None."""
    if not VALUE_QUESTION.search(question):
        return None
    fields = asked_fields(question, [text for _, text in candidates])
    # asked for the default, a value the answer gives in an example ("with `beta=1.0` ...") is not it
    default = DEFAULT_ASKED.search(question)
    for f in fields:  # each field's own default line ("`beta`: default 0.4", not "`beta_steps`: ...")
        if not any(gives_default(f, s.sentence) or not default and value_of(s.sentence, content_tokens(f))
                   for s in shown):
            # not another method's default ("PPG's config is PPO's ... `n_epochs`: default 1")
            entities = entity_terms(question)
            found = next(((n, text) for n, text in dict.fromkeys(candidates) if gives_default(f, text)
                          and not others_named(text, entities) and not repeats(text, shown)), None)
            if found:
                return found
    # the config field the answer names for "what's its default weight?" ("weighted by the
    # config field `aug_coef`"): the sentence that gives its value ("`aug_coef` (default `0.1`)")
    for f in named_fields(s.sentence for s in shown):
        found = next(((n, text) for n, text in dict.fromkeys(candidates) if field_value(f, text)
                      and is_statement(text) and not PRONOUN.match(text) and not repeats(text, shown)), None)
        if found:
            return found
    if fields:
        return None
    # a number in code ("`[1, L]`") states no value; "`k=10`" does
    if any(VALUE_NUMBER.search(INLINE_CODE.sub(lambda m: " ".join(re.findall(r"=\s*(\S+)", m.group())), s.sentence))
           for s in shown):
        return None
    topic = content_tokens(question) - VALUE_WORDS
    # the value of what the answer has not named yet ("beta" once "prioritized replay" is said)
    topic = (topic - set().union(*(content_tokens(s.sentence) for s in shown))) or topic
    for n, text in dict.fromkeys(candidates):
        if (value_of(text, topic) and is_statement(text)
                and " | " not in text  # the tail of a table row cut at a chunk's edge
                and not PRONOUN.match(text) and not repeats(text, shown)):
            return n, text
    return None


def lead_in(question: str) -> str:
    """What precedes quoted English sources in a Chinese answer; empty otherwise."""
    return "文档中的相关原文（英文）如下：" if is_chinese(question) else ""


def missing_terms(question: str, texts: Sequence[str]) -> list[str]:
    """The key terms of ``question`` that none of ``texts`` mentions (an ``s`` plural, case
    and an identifier's underscores aside)."""
    haystack = " ".join(texts).lower()
    joined = haystack.replace("_", "")
    missing = []
    for term in key_terms(question):
        if said_as(term, haystack) or notation(term, question):
            continue
        stem = _stem(term)
        # "Q1" is the docs' `Q_1`, `random_shift` their `RandomShift`
        if not re.search(rf"(?<![a-z0-9]){re.escape(stem)}", haystack) and not (
                re.search(rf"(?<![a-z0-9]){re.escape(stem.replace('_', ''))}", joined)) and not (
                re.search(_template(stem), haystack)):
            missing.append(term)
    return missing


# a letter and a number ("Q1", "x0"): the user's own notation for a quantity, not a name
NOTATION = re.compile(r"^[A-Za-z]_?\d+$")


def notation(term: str, question: str) -> bool:
    """Whether ``term`` is the user's notation for a quantity: a letter and a number written
    in a formula ("min(Q1, Q2)", "Q1 = r + ..."), not a name ("the Q3 offsite")."""
    return bool(NOTATION.match(term)) and re.search(
        rf"[(,=<>+*/-]\s*{re.escape(term)}\b|\b{re.escape(term)}\s*[),=<>+*/-]", question) is not None


def _stem(term: str) -> str:
    """``term`` in lower case without an ``s`` plural, an acronym's too ("TVs" -> "tv")."""
    t = term.lower()
    return t[:-1] if t.endswith("s") and (len(t) > 3 or term[:-1].isupper()) else t


def _template(term: str) -> str:
    """A pattern that finds ``term`` as the docs write it with a placeholder for its number:
    "step_20000" as ``step_<N>``, "seed3" as ``seed<k>``; a term without a number matches
    nothing."""
    pieces = re.split(r"\d+", term)
    if len(pieces) < 2 or not any(len(p) >= 3 for p in pieces):
        return r"(?!)"
    return r"(?<![a-z0-9])" + r"(?:\d+|<[^<>\s]{1,12}>)".join(re.escape(p) for p in pieces)


def restore_case(question: str, texts: Sequence[str]) -> str:
    """``question`` with the lower-case names that ``texts`` spell as names written as they
    do ("how does rnd work" -> "how does RND work", "ppg's" -> "PPG's", "v-trace" ->
    "V-trace"), so that a question typed in lower case is read as naming the method. A word
    becomes a name when its prose occurrences (code aside) are mostly in one spelling with two
    capitals, a capital and a digit, or a capital letter before a hyphen ("V-trace")."""
    # each text's code taken out on its own: one with an unpaired backtick (a cut-off code
    # span) does not turn the code of all that follow into prose
    prose = " ".join(LITERAL.sub(" ", CODE_BLOCK.sub(" ", t)) for t in texts)
    forms: dict[str, dict[str, int]] = {}
    # (not a module in a dotted path: "rlcore.rewards.icm.ICM" spells the method ICM)
    for m in re.finditer(r"(?<![\w.-])[A-Za-z][\w-]*[A-Za-z0-9](?![\w-]|\.\w)", prose):
        word = m.group(0)
        forms.setdefault(word.lower(), {}).setdefault(word, 0)
        forms[word.lower()][word] += 1

    def name(m: re.Match) -> str:
        word = m.group(0)
        seen = forms.get(word)
        if not seen or word in STOP:
            return word
        best, n = max(seen.items(), key=lambda kv: kv[1])
        capitals = sum(c.isupper() for c in best)
        named = capitals >= 2 or (capitals and any(c.isdigit() for c in best)) or re.match(r"[A-Z]-", best)
        return best if named and best != word and n > 2 * seen.get(word, 0) else word

    return re.sub(r"(?<![\w-])[a-z][\w-]*[a-z0-9](?![\w-])", name, question)


# the thing a question is about, in its first words: "what is go-explore", "how does hindsight
# experience replay relabel ...", "option-critic question: ...", "hindsight experience replay with the
# 'future' strategy - how ..."
SUBJECT = re.compile(r"^\s*(?:(?:what(?:'s|s|\s+is|\s+are|\s+does|\s+do)?|explain|define|describe|"
                     r"how\s+(?:does|do|is|are|can|should))\s+(?:the\s+|a\s+|an\s+)?(?P<after>[\w'-]+(?:\s+[\w'-]+){0,5})"
                     r"|(?P<before>[\w'-]+(?:\s+[\w'-]+){0,7})\s*(?:\s-\s|–|—|:))", re.I)

# "how do I use hindsight experience replay with sac?": what is to be used is the subject
HOW_TO_USE = re.compile(r"^\s*how\s+(?:do|can|should|would)\s+(?:i|we|you)\s+(?:use|apply|implement|enable|try|"
                        r"combine|add)\s+(?:the\s+|a\s+|an\s+)?(?P<after>[\w'-]+(?:\s+[\w'-]+){0,5})", re.I)


# a word that says how much or how truly, never what: "the actual config differences between ..."
MODIFIER = re.compile(r"^(?:actual|real|exact|precise|main|basic|overall|practical|general|specific|concrete|"
                      r"fundamental|typical|usual|whole|entire)\s+", re.I)


def unknown_subject(question: str, knows: Callable[[str], bool], texts: Sequence[str]) -> list[str]:
    """The lower-case words naming what ``question`` is about ("hindsight" in "how does
    hindsight experience replay relabel goals?", "go-explore") that the corpus never uses:
    the subject's first word when no chunk holds it in any form (``knows``), or a hyphenated
    word of it that none of ``texts`` holds. Capitalised names are :func:`missing_terms`'
    business."""
    m = HOW_TO_USE.match(question) or SUBJECT.match(question)
    if not m:
        return []
    out, haystack = [], " ".join(texts).lower()
    # "the purpose of X", "the role of X", "the intuition behind X": X is what it is about; so
    # are A and B in "the actual difference between A and B"
    phrase = re.sub(r"^(?:[\w'-]+\s+)?[\w'-]+\s+(?:of|between|behind)\s+(?:the\s+|a\s+|an\s+)?", "",
                    MODIFIER.sub("", m.group("after") or m.group("before")))
    said = phrase.split()
    if (m.groupdict().get("before") and said and said[-1].lower() in REMARK
            and all(VAGUE.match(w.lower()) or w.lower() in REMARK_WORDS for w in said[:-1])):
        return []
    for i, word in enumerate(phrase.split()):
        word = re.sub(r"'s$", "", word)
        if word.lower() in STOP:
            break
        if (not word.islower() or not word.replace("-", "").isalpha() or (i and "-" not in word)
                or VAGUE.match(word)):
            continue  # after its first word a phrase may go on to a verb ("... replay relabel")
        if "-" in word:
            parts = [p for p in word.split("-") if p]
            if not any(sep.join(parts) in haystack for sep in ("-", " ", "")) and not knows(word.lower()):
                out.append(word)
        elif len(word) >= 4 and not knows(word):
            out.append(word)
    return out


# contractions typed without their apostrophe ("whats") are no subject the docs could lack
BARE_CONTRACTIONS = frozenset("whats hows wheres whos thats theres doesnt dont didnt isnt arent wasnt cant "
                              "couldnt wont wouldnt shouldnt ive im youre lets".split())
# "nicely", "suddenly": how something happened, never what the docs lack ("anomaly", "apply" are no adverbs)
ADVERB = re.compile(r"^[a-z]{3,}(?<![aop])ly$")
# "smallish", "longish": a rough size; "ballpark", "noob": a word about the question; never a name
VAGUE = re.compile(r"^(?:[a-z]{3,}ish|ballpark|noob|newbie|dumb|silly|stupid|followup|sanity|weird|odd|strange|"
                   r"tricky|curious)$")
# "weird one: ...", "quick q: ...": a heading that says what kind of question follows, not its topic
REMARK = frozenset("one ones q qs question questions thing things".split())
REMARK_WORDS = frozenset("quick short random simple another small big general basic two 2 few couple last final "
                         "more side".split())  # "quick one:", but "option-critic question:" names its topic
# "uneven", "nonzero": a known word negated names nothing new
NEGATED_WORD = re.compile(r"^(?:un|non|in|dis)(?=[a-z]{4,}$)")
LOWER_WORD = re.compile(r"(?<![\w'-])[a-z]+(?:-[a-z]+)*(?![\w'-])")


def unknown_words(question: str, knows: Callable[[str], bool]) -> list[str]:
    """The lower-case words of ``question`` (four letters or more, each part of a hyphenated
    word apart) that no chunk holds in any form: "alphazero", "cleanrl", "sourdough". On
    their own they prove nothing (a user's "crank" or "plug" is no topic); with evidence
    that is far from the question in meaning, they name what the docs lack."""
    words = (part for word in LOWER_WORD.findall(question) for part in word.split("-"))
    return list(dict.fromkeys(w for w in words if len(w) >= 4 and w not in STOP and not ADVERB.match(w)
                              and w not in BARE_CONTRACTIONS and not knows(w)
                              and not (NEGATED_WORD.match(w) and knows(NEGATED_WORD.sub("", w)))))


# the names a user's own code gives: `@register("encoders", "ln_mlp")`, `register(id="Grid-v0")`,
# `class LnMLP`, `def shaped_reward`
DEFINED = re.compile(r"""\bregister\(\s*(?:["'][^"'\n]*["']\s*,\s*)?(?:id\s*=\s*)?["']([^"'\n]+)["']"""
                     r"|\b(?:class|def)\s+([A-Za-z_]\w*)")


def defined_names(question: str) -> set[str]:
    """The names that the code pasted into ``question`` defines for itself: a user's own key
    is no name the docs could lack ("I re-ran the cell with `@register("encoders", "ln_mlp")`
    and now it raises ValueError")."""
    return {g for m in DEFINED.finditer(question) for g in m.groups() if g}


# an environment's name and its id as the docs write it: `CartPole-v1`, `ALE/Breakout-v5`
ENV_NAME = r"(?:[A-Z][A-Za-z0-9]*/)?[A-Z][A-Za-z0-9]+"
ENV_ID = re.compile(rf"(?<![\w/-]){ENV_NAME}-v\d+\b")


def left_off_list(term: str, texts: Sequence[str], mentions: Callable[[str], bool]) -> bool:
    """Whether ``term`` is an environment the docs know (``mentions``: whether the corpus holds
    a text, "lunarlander-v") that a sentence of ``texts`` listing three or more environment ids
    leaves out: "can I get pixels for LunarLander?" is answered by the list of the ids that
    have them, not declined as a name no source mentions."""
    if not re.fullmatch(rf"{ENV_NAME}(?:-v\d+)?", term):
        return False
    if not mentions(re.sub(r"-v\d+$", "", term).lower() + "-v"):
        return False
    return any(len(set(ENV_ID.findall(s))) >= 3 for t in texts for s in SENTENCE_END.split(t))


def proper_words(question: str) -> list[str]:
    """The capitalised words of four letters or more inside a sentence of ``question`` (not its
    first word): "Breakout" in "Our Breakout run's curve sits at 10", a name however plain."""
    out = []
    for sentence in re.split(r"(?<=[.?!:;])\s+|\n+", question):
        words = re.findall(r"(?<![\w`'-])[A-Za-z][\w'-]*", INLINE_CODE.sub(" ", sentence))
        out += [w for w in words[1:] if re.fullmatch(r"[A-Z][a-z]{3,}", w)]
    return list(dict.fromkeys(out))


def env_beside(term: str, question: str, texts: Sequence[str], mentions: Callable[[str], bool]) -> bool:
    """Whether ``term`` is an environment id the docs know, named beside another id of the
    question that ``texts`` hold: "`rlcore report` over runs on CartPole-v1 and Acrobot-v1"
    asks about the report, and the environments are the user's examples."""
    if not ENV_ID.fullmatch(term) or not mentions(term.lower()):
        return False
    haystack = " ".join(texts).lower()
    return any(other != term and other.lower() in haystack for other in ENV_ID.findall(question))


# a phrase the docs use, read with a word before it that no chunk holds: "hindsight experience
# replay" is a method of its own, not the docs' experience replay
PERSON = r"(?:i|we|you|they|he|she|it|people|everyone|someone)"


def unknown_variant(question: str, unknown: Sequence[str], mentions: Callable[[str], bool]) -> list[str]:
    """For each word of ``unknown`` (words no chunk holds) that stands right before two
    content words the docs use together, that three-word name ("hindsight experience
    replay"): the question asks about a variant the docs do not describe, however close
    their passages on the plain phrase are."""
    out = []
    for word in unknown:
        # a verb after its subject names nothing: "I thought epsilon decays ..."
        if (len(word) < 5 or ADVERB.match(word) or VAGUE.match(word)
                or re.search(rf"\b{PERSON}\s+{re.escape(word)}\b", question, re.I)):
            continue
        m = re.search(rf"(?<![\w-]){re.escape(word)}\s+([a-z][a-z-]+)\s+([a-z][a-z-]+)", question, re.I)
        if not m:
            continue
        first, second = m.group(1).lower(), m.group(2).lower()
        if any(w in STOP or w in GENERIC or len(w) < 4 for w in (first, second)):
            continue
        if mentions(f"{first} {second}"):
            out.append(f"{word} {m.group(1)} {m.group(2)}")
    return out


def unknown_compound(question: str, unknown: Sequence[str], mentions: Callable[[str], bool],
                     texts: Sequence[str]) -> list[str]:
    """The hyphenated names of ``question`` that join a method ``texts`` name (an acronym: PPO)
    to one of ``unknown`` (words no chunk holds) and that the docs never write: "ppo-lagrangian"
    names a variant of PPO the docs do not describe, however close their passages on PPO are
    ("dumbed-down" joins no method)."""
    methods = {m.lower() for m in METHOD.findall(" ".join(texts))}
    out = []
    for m in re.finditer(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+(?![\w-])", question):
        parts = m.group(0).lower().split("-")
        if (any(p in unknown for p in parts) and any(p in methods for p in parts)
                and not mentions(m.group(0).lower())):
            out.append(m.group(0))
    return out


# "how do I send metrics to Weights & Biases (wandb)?": what the user wants things sent to,
# done with or run under, and any name given in brackets
TARGET = re.compile(r"\b(?:to|into|with|using|via|through|on|under)\s+((?:[\w&.+-]+\s*){1,4})\??\s*$"
                    r"|\(((?:[\w&.+-]+\s*){1,3})\)", re.I)


def unknown_target(question: str, unknown: Sequence[str]) -> list[str]:
    """The words of ``unknown`` (words no chunk holds) that name what the question asks to
    use or reach, at its end or in brackets: a tool or a service the docs never mention,
    however close the rest of the question is to them."""
    target = " ".join(g for m in TARGET.finditer(question) for g in m.groups() if g).lower()
    return [w for w in unknown if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", target)]


# "Does rlcore support X?": the docs must name X for the answer to be anything but "not covered"
SUPPORT_QUESTION = re.compile(r"^\s*(?:does|do|can|is there|are there)\b.*?\b(?:support|supports|"
                              r"(?:have|has)(?!\s+to\b)|include|"  # "does RE3 have to train ...": no feature
                              r"includes|offer|offers|provide|provides|implement|implements|ship|ships|"
                              r"come with|work with)\s+(?P<what>[^?]+?)\s*\??\s*$", re.I)
# "Can rlcore log runs to W&B?": the same, for what rlcore is asked to do (the verb aside)
ABILITY_QUESTION = re.compile(r"^\s*(?:can|could|does|will)\s+(?:rlcore|it)\s+(?!be\b)\w+\s+(?P<what>[^?]+?)\s*\??\s*$",
                              re.I)
BROAD = frozenset("reinforcement learning learn rl rlcore copilot train training agent agents algorithm "
                  "algorithms method methods any some".split())




def unknown_flags(question: str, mentions: Callable[[str], bool]) -> list[str]:
    """The command-line flags ``question`` names ("is there a `--record-video` flag?") that no
    source holds as written (``mentions``: whether the corpus does)."""
    return [f for f in flags(question) if not mentions(f)]


def unmentioned_feature(question: str, texts: Sequence[str]) -> list[str]:
    """For "does rlcore support X?", ``[X]`` when no sentence of ``texts`` names X (all its
    specific words together, a hyphenated word as written); else ``[]``."""
    m = SUPPORT_QUESTION.match(question) or ABILITY_QUESTION.match(question)
    if not m:
        return []
    what = m.group("what").strip()
    # "weights & biases (wandb)": either name will do
    forms = [f for f in (re.sub(r"\([^)]*\)", " ", what), *re.findall(r"\(([^)]*)\)", what)) if f.strip()]
    for form in forms:
        need = {t for t in content_tokens(form) if t not in BROAD and t not in GENERIC}
        compounds = [w.lower() for w in re.findall(r"\b\w+-\w+\b", form)]
        if not need and not compounds:
            return []
        for text in texts:
            low = text.lower()
            if not all(c in low or c.replace("-", " ") in low or c.replace("-", "") in low for c in compounds):
                continue
            if any(need <= content_tokens(sentence) for sentence in SENTENCE_END.split(text)):
                return []
    return [forms[-1].strip() if len(forms) > 1 else what]  # "wandb" for "runs to weights & biases (wandb)"


# a name in the middle of a question ("How does Dreamer learn ...", "... the capital of France")
CAPITALISED = re.compile(r"(?<=[a-z0-9,;:'\"] )[A-Z][a-z]+(?:-[A-Za-z0-9]+)?\b")


def asked_sentences(question: str) -> tuple[list[str], list[str]]:
    """``question``'s sentences that ask (end with "?") and those that tell the user's situation
    ("my rlcore sweep died halfway through (machine rebooted). what happens if ...?"); no
    situation when every sentence asks, or none does."""
    parts = [p.strip() for p in re.split(r"(?<=[.?!])" + NOT_ABBREVIATION + r"\s+(?=[\w`'\"(])", question)
             if p.strip()]
    asked = [p for p in parts if p.endswith(("?", "？"))]
    return (asked, [p for p in parts if p not in asked]) if asked and len(asked) < len(parts) else (parts, [])


def context_terms(question: str) -> set[str]:
    """The names of ``question`` that only its statements hold, when it asks something in a
    sentence of its own: "Training PPO on ALE/Breakout-v5: the returns are tiny. Is my logging
    broken?" gives the setting (ALE) and asks about the logs."""
    asked, told = asked_sentences(question)
    said = {t for p in asked for t in key_terms(p) + CAPITALISED.findall(p)}
    return {t for p in told for t in key_terms(p) + CAPITALISED.findall(p)} - said


def passing_terms(question: str, titles: Sequence[str], texts: Sequence[str],
                  headed: Callable[[str], bool] | None = None) -> list[tuple[str, int]]:
    """The names of ``question`` (its key terms and capitalised words, identifiers aside)
    that no source's title mentions and that the sources' texts mention only in brackets, if
    at all, each with its number of mentions: a source that lists "model-based (Dreamer)
    learners" among RE3's results does not document Dreamer. ``headed``: whether a page or
    section of the docs is about a name; one that is ("On-policy agents (PPO, A2C) ..." beside
    PPO's own pages) is documented, not mentioned in passing."""
    out = []
    first = first_part(question)
    for term in dict.fromkeys(key_terms(question) + CAPITALISED.findall(question)):
        if "_" in term or notation(term, question) or any(said_as(term, t.lower()) for t in texts):
            continue
        if term not in first and any(_stem(term) in t.lower() for t in texts):
            continue  # what a later part asks about ("..., and what happens on CUDA?"), said in passing
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(_stem(term))}")
        if any(pattern.search(t.lower()) for t in titles) or (headed is not None and headed(term)):
            continue
        spots = [(t, m.start()) for t in texts for m in pattern.finditer(t.lower())]
        if all(_in_brackets(t, pos) and not _in_code(t, pos) for t, pos in spots):
            out.append((term, len(spots)))
    return out


def _in_code(text: str, pos: int) -> bool:
    """Whether position ``pos`` of ``text`` lies in a code block or a code span, where a name
    in brackets is a call's argument (``make_env("ALE/Pong-v5")``), not an aside."""
    before = text[:pos]
    return before.count("```") % 2 == 1 or before[before.rfind("\n") + 1:].count("`") % 2 == 1


def _in_brackets(text: str, pos: int) -> bool:
    """Whether position ``pos`` of ``text`` lies inside round brackets."""
    before = text[:pos]
    return before.count("(") > before.count(")")


def decline(question: str, missing: Sequence[str] = (), in_passing: bool = False) -> str:
    """The one-sentence answer when the indexed docs do not cover ``question``; ``missing``:
    the question's terms that no source mentions (``in_passing``: that the sources mention
    only in passing), named in the answer."""
    q = " ".join(question.split())
    q = q if len(q) <= 80 else q[:77] + "..."
    terms = ", ".join(missing)
    if is_chinese(question):
        why = (f"，找到的资料只是顺带提到 {terms}" if in_passing else f"，找到的资料都没有提到 {terms}") if terms else ""
        return f"我手头的文档不涵盖这个问题（“{q}”）{why}，所以无法给出有出处的回答。"
    if terms and in_passing:
        return f'The docs I have do not cover "{q}": the sources found mention {terms} only in passing.'
    if terms:
        return f'The docs I have do not cover "{q}": none of the sources found mentions {terms}.'
    return f'The docs I have do not cover "{q}", so I cannot answer it with a citation.'


def repeats(sentence: str, shown: Sequence[Support], overlap: float = 0.8) -> bool:
    """Whether ``sentence`` says mostly (``overlap`` of its words) what a shown sentence says."""
    return _repeats(sentence, shown, overlap)


def complete_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Streamed text pieces regrouped into whole sentences (and whole code blocks), each
    yielded as soon as the next one starts; a trailing fragment cut off mid-sentence is
    not yielded."""
    buf, done = "", 0
    for piece in pieces:
        buf += piece
        if buf.count("```") % 2:
            continue  # inside a code block
        parts = split_answer(buf)
        for part in parts[done:-1]:
            yield part
        done = max(done, len(parts) - 1)
    for part in split_answer(buf)[done:]:
        if part.startswith("```"):  # a code block cut off before its closing fence is a fragment
            if part.count("```") >= 2:
                yield part
        # "... in `" and "... ``device``, ``" are cut off
        elif (re.search(r"[.!?。！？:)`\]]\s*$", part) and part.count("`") % 2 == 0
              and not re.search(r"[,;(]\s*`+\s*$", part)):
            yield part
