"""How search orders its candidates: question type, weighted score fusion, kind priors, relevance.

Every candidate (the union of the dense top-N, the BM25 top-N and exact code-symbol matches)
gets one score:

    score = dense * cosine + bm25 * (BM25 / best BM25 of the query) + symbol * match + prior[type][kind]

``cosine`` is the embedder's similarity of query and chunk (absolute, comparable across
queries); BM25 is scaled by the query's best BM25 score, so it only orders candidates;
``match`` is 1 for a whole symbol named in the query and 0.5 for an identifier equal to a
symbol's last part. The prior depends on the question's type: concept questions ("what is",
"why", "how does") favour the corpus's explanations, API questions (an identifier, or words
such as function, class, config field) favour the API reference and the reference docs.

``relevance`` turns the best cosine and the share of the query's words that the corpus has
into a calibrated 0..1 score per hit, so a caller can decline when nothing relevant was found
(an off-topic question scores well under 0.35). The weights were chosen on the retrieval gold
set (``bench/retrieval_gold.jsonl``) and checked on the dev set's sources; ``bench/retrieval.py
--compare`` measures each lever against the others in one run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

CONCEPT, API = "concept", "api"
_IDENTIFIER = re.compile(r"\b(?:[a-z]+_[a-z0-9_]+|[A-Z][a-z0-9]+[A-Z]\w*|[a-z]+\.[a-z_.]+[a-z])\b")
_API_WORDS = re.compile(
    r"\b(function|functions|class|classes|method|methods|argument|arguments|parameter of|field|fields|"
    r"config|configuration|attribute|signature|returns?|import|module|registry|register|wrapper|cli|"
    r"command line|flag|keys?|columns?|rlcore|make_env|make_agent)\b", re.IGNORECASE)
_API_WORDS_ZH = re.compile(r"(函数|类|方法|字段|配置|接口|注册|命令行|导出|怎么用|如何在)")
_CONCEPT_START = re.compile(r"^\s*(what is|what are|why|how does|how do .* work|explain|what does .* "
                            r"(mean|measure|compute|do)\b)", re.IGNORECASE)


def query_type(query: str) -> str:
    """``api`` for questions about rlcore's code and settings, ``concept`` for the rest."""
    if _IDENTIFIER.search(query):
        return API
    api_words = len(_API_WORDS.findall(query)) + len(_API_WORDS_ZH.findall(query))
    if api_words and not (_CONCEPT_START.search(query) and api_words < 2):
        return API
    return CONCEPT


def _default_priors() -> dict[str, dict[str, float]]:
    return {
        CONCEPT: {"paper": 0.03, "faq": 0.02, "doc": 0.01, "tutorial": 0.0, "api": -0.06, "user": 0.02},
        API: {"doc": 0.03, "api": 0.02, "tutorial": 0.015, "faq": 0.01, "paper": -0.01, "user": 0.0},
    }


@dataclass(frozen=True)
class Ranking:
    """The levers of ranking; the defaults are the measured best (see the module docstring)."""

    fusion: str = "weighted"  # "weighted" score fusion, or "rrf" (reciprocal rank, k=60)
    dense: float = 1.0
    bm25: float = 0.25
    symbol: float = 0.3
    heading: float = 0.2  # BM25 of the query against the chunk's own heading, scaled by the best
    heading_dense: float = 0.2  # cosine of the query to the chunk's own heading (reranking stage)
    unit_dense: float = 0.3  # cosine of the query to the chunk's closest sentence (reranking stage)
    rerank: int = 20  # candidates reranked with heading_dense and unit_dense
    brevity: float = 0.2  # penalty for chunks with little text (under BRIEF characters)
    priors: dict[str, dict[str, float]] | None = field(default_factory=_default_priors)
    typed: bool = True  # priors per question type; False applies the concept priors to every question
    depth: int = 40  # candidates taken from each ranking

    def without(self, lever: str) -> "Ranking":
        """This ranking with one lever switched off (for ablations)."""
        off = {"priors": {"priors": None}, "types": {"typed": False}, "bm25": {"bm25": 0.0},
               "dense": {"dense": 0.0}, "symbol": {"symbol": 0.0}, "weighted": {"fusion": "rrf"},
               "heading": {"heading": 0.0}, "brevity": {"brevity": 0.0}, "rerank": {"heading_dense": 0.0},
               "units": {"unit_dense": 0.0}}
        if lever not in off:
            raise ValueError(f"Unknown lever {lever!r}; accepted: {', '.join(off)}.")
        return replace(self, **off[lever])


DEFAULT = Ranking()
RRF_K = 60
BRIEF = 500


@dataclass
class Candidate:
    """One chunk under consideration, with its signals and 1-based ranks (``None``: not found)."""

    id: str
    kind: str = ""
    cosine: float = 0.0
    bm25: float = 0.0
    symbol: float = 0.0
    heading: float = 0.0
    heading_cosine: float = 0.0
    unit_cosine: float = 0.0
    chars: int = BRIEF
    ranks: list[int | None] = field(default_factory=lambda: [None, None, None])
    score: float = 0.0


def fuse(candidates: list[Candidate], ranking: Ranking, qtype: str) -> list[Candidate]:
    """Score the candidates in place and return them best first (ties: better dense rank)."""
    if ranking.fusion == "rrf":
        for c in candidates:
            c.score = sum(1.0 / (RRF_K + r) for r in c.ranks if r is not None)
    else:
        best_bm25 = max((c.bm25 for c in candidates), default=0.0) or 1.0
        best_heading = max((c.heading for c in candidates), default=0.0) or 1.0
        priors = (ranking.priors or {}).get(qtype if ranking.typed else CONCEPT, {})
        for c in candidates:
            c.score = (ranking.dense * c.cosine + ranking.bm25 * c.bm25 / best_bm25
                       + ranking.symbol * c.symbol + ranking.heading * c.heading / best_heading
                       + ranking.heading_dense * c.heading_cosine + ranking.unit_dense * c.unit_cosine
                       + priors.get(c.kind, 0.0) - ranking.brevity * max(0.0, 1.0 - c.chars / BRIEF))
    return sorted(candidates, key=lambda c: (-c.score, c.ranks[0] or 10**9, c.ranks[1] or 10**9))


def relevance(cosine: float, coverage: float) -> float:
    """A calibrated 0..1 relevance from a hit's cosine and the query's word coverage.

    Fitted on the gold set's first hits (relevant) against off-topic questions: relevant first
    hits have cosines of about 0.45 and more and nearly full coverage, off-topic questions
    cosines under 0.25 and few of their words in the corpus. 0.5 sits between the two.
    """
    z = 14.0 * (cosine - 0.32) + 3.0 * (coverage - 0.6)
    return 1.0 / (1.0 + math.exp(-z))
