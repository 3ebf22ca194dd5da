"""Identifier-aware tokens and a compact numpy BM25 (Okapi, k1=1.5, b=0.75).

Identifiers keep their whole lower-cased form and also yield their parts, so that
``ReplayBuffer``, ``replay_buffer`` and ``replay buffer`` all meet on ``replay`` and
``buffer`` (and on the joined ``replaybuffer``), and ``rlcore.agents.ppo.PPO`` also yields
``rlcore``, ``agents`` and ``ppo``. Chinese runs yield character bigrams. British and
American spellings meet on one form (``prioritised`` and ``prioritized`` on ``prioritized``,
``behaviour`` on ``behavior``), since the docs and their readers rarely spell alike; for
matching sentences, plain words can also be lightly stemmed (``sampling`` and ``samples`` on
``sampl``). The forms are the same for documents and queries: they only need to meet.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:\.\d+)?|[\u4e00-\u9fff]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_COMPOUND = re.compile(r"(?<![\w-])([A-Za-z][A-Za-z0-9]*)-([A-Za-z0-9]+)(?![\w-])")
TOKENIZER = "3"  # saved with the postings: postings of another version are rebuilt
LONG_TYPO = 9  # letters from which a word with one letter too many is read as misspelt
_SPELLING = [(re.compile(p), r) for p, r in (
    (r"(?<=\w{3})is(e|ed|es|ing|er|ers|ation|ations)$", r"iz\1"),  # normalise -> normalize
    (r"(?<=\w{2})ys(e|ed|es|ing)$", r"yz\1"),  # analyse -> analyze
    (r"^(behavi|neighb|fav|col|hon|lab|harb|hum|flav|endeav|vap|arm)our", r"\1or"),  # behaviour
    (r"(?<=\we)ll(ed|ing|er|ers)$", r"l\1"),  # modelling -> modeling
    (r"^centre", "center"),
)]
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i if in into is it its me my "
    "of on or our so than that the their then there these this to was we what when where which "
    "who why will with you your".split())


def _parts(identifier: str) -> list[str]:
    parts: list[str] = []
    for segment in identifier.split("."):
        for piece in segment.split("_"):
            parts.extend(_CAMEL.findall(piece))
    return [p.lower() for p in parts if p]


def _cjk_tokens(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i:i + 2] for i in range(len(run) - 1)]


def spelling(word: str) -> str:
    """One spelling for British and American variants of a lower-case word."""
    if len(word) < 6 or not word.isalpha():
        return word
    for pattern, repl in _SPELLING:
        word = pattern.sub(repl, word)
    return word


def stem(word: str) -> str:
    """A light stem, so that inflections meet: ``samples``, ``sampled`` and ``sampling`` on
    ``sampl``, ``policies`` on ``policy``, ``running`` and ``runs`` on ``run``. Only plain
    lower-case words of five letters or more, and a four-letter plural (``runs``, ``logs``); a
    stem keeps at least three letters."""
    if len(word) == 4 and word.isalpha() and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word[:-1]
    if len(word) < 5 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # running -> run, embedded -> embed
            break
    if word.endswith("ation") and len(word) >= 10:
        word = word[:-5]  # exploration and explore meet on explor, observation and observe on observ
    elif word.endswith("tion") and len(word) >= 9:
        word = word[:-3]  # correction -> correct, prediction -> predict (not action -> act)
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]  # sample / samples / sampled / sampling meet on sampl
    return word


def _term(word: str, stemmed: bool) -> str:
    return stem(spelling(word)) if stemmed else spelling(word)


def _word_tokens(word: str, stemmed: bool = False) -> list[str]:
    segments = [s for s in word.split(".") if s]
    tokens = [word.lower()] if len(segments) > 1 else []
    for segment in segments:
        low = segment.lower().strip("_")
        parts = _parts(segment)
        if not low:
            continue
        if len(parts) <= 1:
            if low not in STOPWORDS:
                tokens.append(_term(low, stemmed))
            continue
        tokens.append(low)
        joined = "".join(parts)
        if joined != low:
            tokens.append(joined)
        tokens.extend(_term(p, stemmed) for p in parts if p not in STOPWORDS)
    return tokens


def tokenize(text: str, stemmed: bool = False) -> list[str]:
    """Lower-cased tokens: whole identifiers, their joined form and their parts; no stopwords.
    ``stemmed`` also stems plain words (sentence matching; the BM25 index does not: measured
    on the retrieval gold set, stems put concept pages above the config reference for API
    questions)."""
    tokens: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if "\u4e00" <= word[0] <= "\u9fff":
            tokens.extend(_cjk_tokens(word))
        else:
            tokens.extend(_word_tokens(word, stemmed))
    # a name hyphenated at a short or numbered part is also typed whole: "DrQ-v2" as "drqv2",
    # "V-trace" as "vtrace", "n-step" as "nstep"
    tokens.extend((a + b).lower() for a, b in _COMPOUND.findall(text)
                  if min(len(a), len(b)) <= 2 or any(c.isdigit() for c in a + b))
    return tokens


class BM25:
    """Okapi BM25 over postings held in numpy arrays (term -> documents and counts)."""

    def __init__(self, terms: dict[str, int], indptr: np.ndarray, docs: np.ndarray,
                 freqs: np.ndarray, lengths: np.ndarray, k1: float = 1.5, b: float = 0.75) -> None:
        self.terms = terms
        self.indptr = indptr
        self.docs = docs
        self.freqs = freqs
        self.lengths = lengths
        self.k1 = k1
        self.b = b
        self._stems: set[str] | None = None

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]]) -> "BM25":
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths: list[int] = []
        for doc, tokens in enumerate(token_lists):
            lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                postings.setdefault(term, []).append((doc, count))
        terms = {term: i for i, term in enumerate(sorted(postings))}
        sizes = [len(postings[t]) for t in terms]
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        flat = [pair for t in terms for pair in postings[t]]
        docs = np.array([d for d, _ in flat], dtype=np.int32)
        freqs = np.array([c for _, c in flat], dtype=np.float32)
        return cls(terms, indptr, docs, freqs, np.array(lengths, dtype=np.float32))

    def df(self, term: str) -> int:
        """How many documents hold ``term``."""
        i = self.terms.get(term)
        return 0 if i is None else int(self.indptr[i + 1] - self.indptr[i])

    def knows(self, word: str) -> bool:
        """Whether some document holds ``word`` (a lower-case word) in some form: as it is, or
        its stem in either spelling ("normalization" meets "normalisation")."""
        if self._stems is None:
            self._stems = {stem(t) for t in self.terms}
        term = stem(spelling(word))
        return word in self.terms or term in self.terms or term in self._stems or not tokenize(word)

    def nearest_term(self, word: str, min_df: int = 2) -> str | None:
        """The indexed term that ``word`` misspells by a dropped letter or two swapped ones
        ("targt", "priortized"), held by at least ``min_df`` documents, the most common first;
        None when ``word`` is indexed in some form (the stem of "reduces" is that of "reduce")
        or nothing is that close. A changed letter is not mended, nor an extra one in a word
        shorter than ``LONG_TYPO`` letters: "bread" is not a misspelt "read", and the corpus
        knows too few words to tell the two apart; "dissagreement" is a misspelt
        "disagreement"."""
        if self.knows(word):
            return None  # indexed, or a stopword ("there"), which no index holds
        letters = "abcdefghijklmnopqrstuvwxyz"
        cut = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        near = {a + c + b for a, b in cut for c in letters} | {a + b[1] + b[0] + b[2:] for a, b in cut if len(b) > 1}
        if len(word) >= LONG_TYPO:  # a doubled or stray letter in a long word ("dissagreement")
            near |= {a + b[1:] for a, b in cut if b}
        found = [(self.df(t), t) for t in near if t != word and self.df(t) >= min_df]
        return max(found)[1] if found else None

    @property
    def n_docs(self) -> int:
        return int(self.lengths.shape[0])

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query (zeros where no term matches)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        if self.n_docs == 0:
            return out
        avg = float(self.lengths.mean()) or 1.0
        norm = self.k1 * (1.0 - self.b + self.b * self.lengths / avg)
        for term, weight in Counter(query_tokens).items():
            idx = self.terms.get(term)
            if idx is None:
                continue
            lo, hi = self.indptr[idx], self.indptr[idx + 1]
            docs, tf = self.docs[lo:hi], self.freqs[lo:hi]
            df = hi - lo
            idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
            out[docs] += weight * idf * tf * (self.k1 + 1.0) / (tf + norm[docs])
        return out

    def save(self, path: Path) -> None:
        """Write the postings as ``.npz`` plus the vocabulary as JSON, atomically."""
        vocab = json.dumps(sorted(self.terms, key=self.terms.__getitem__), ensure_ascii=False)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, indptr=self.indptr, docs=self.docs, freqs=self.freqs, lengths=self.lengths,
                 vocab=np.frombuffer(vocab.encode("utf-8"), dtype=np.uint8),
                 tokenizer=np.frombuffer(TOKENIZER.encode(), dtype=np.uint8))
        os.replace(tmp, path)

    @staticmethod
    def current(path: Path) -> bool:
        """Whether the postings at ``path`` exist and were made by this tokenizer version."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return _made_here(data)
        except (OSError, ValueError):
            return False

    @classmethod
    def load(cls, path: Path) -> "BM25":
        """The postings saved at ``path``; ``ValueError`` when another tokenizer made them."""
        with np.load(path, allow_pickle=False) as data:
            if not _made_here(data):
                raise ValueError(f"{str(path)!r} holds postings of another tokenizer version.")
            vocab = json.loads(data["vocab"].tobytes().decode("utf-8"))
            return cls({t: i for i, t in enumerate(vocab)}, data["indptr"], data["docs"],
                       data["freqs"], data["lengths"])


def _made_here(data) -> bool:
    """Whether saved postings were made by this tokenizer version."""
    return "tokenizer" in data and data["tokenizer"].tobytes().decode() == TOKENIZER


def _identifier_like(word: str) -> bool:
    """snake_case, dotted or CamelCase (``PPOConfig``); a bare word or acronym is not."""
    camel = bool(re.search(r"[A-Z]", word[1:])) and bool(re.search(r"[a-z]", word))
    return "_" in word.strip("_") or "." in word or camel


class SymbolTable:
    """Exact look-up of code symbols named in a query (``rlcore.agents.ppo.PPO``, ``ReplayBuffer``).

    A query word equal to a chunk's whole symbol ranks that chunk first; an identifier-like
    word (snake_case, CamelCase or dotted) equal to a symbol's last part comes next.
    """

    def __init__(self, symbols: Sequence[str | None]) -> None:
        self.full: dict[str, list[int]] = {}
        self.tail: dict[str, list[int]] = {}
        for row, symbol in enumerate(symbols):
            if symbol:
                self.full.setdefault(symbol.lower(), []).append(row)
                self.tail.setdefault(symbol.rsplit(".", 1)[-1].lower(), []).append(row)

    @staticmethod
    def _words(query: str) -> list[str]:
        return [m.group(0) for m in _WORD.finditer(query) if not "\u4e00" <= m.group(0)[0] <= "\u9fff"]

    def lookup_full(self, query: str) -> list[int]:
        """Rows whose whole symbol the query names."""
        return [row for w in self._words(query) for row in self.full.get(w.lower(), [])]

    def lookup(self, query: str) -> list[int]:
        words = self._words(query)
        exact = self.lookup_full(query)
        tails = [row for w in words if _identifier_like(w) for row in self.tail.get(w.lower(), [])]
        return list(dict.fromkeys(exact + tails))
