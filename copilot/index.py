"""The search index: a persistent Chroma collection (dense, cosine) plus BM25, fused by score.

Layout of ``settings.index_dir`` (:mod:`copilot.generations`): ``manifest.json`` (written last
by :mod:`copilot.ingest`) names the live generation; readers open its Chroma collection (in
``chroma/``, the chunk store of record) and its BM25 postings and chunk table (``gen-<n>/``,
rebuilt in memory from Chroma when missing or out of step with it). With the ``chroma_url``
setting the collections and the manifest live in that Chroma server instead, and a machine
that did not ingest rebuilds BM25 from the server's documents when it opens the index.

Search embeds the query once, takes the top candidates of each ranking and orders their union
by a weighted sum of cosine similarity, scaled BM25, symbol matches and a prior per kind that
depends on the question's type (:mod:`copilot.ranking`). Questions in Chinese are expanded
with :mod:`copilot.glossary_zh` first, so they reach the English corpus.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from copilot.bm25 import BM25, SymbolTable, tokenize
from copilot.config import Settings
from copilot.embeddings import Embedder, embedder_name, get_embedder
from copilot.evidence import acronyms, as_acronyms, split_units
from copilot.generations import (BM25_FILE, COLLECTION, MANIFEST, TABLE_FILE, chroma_client,  # noqa: F401
                                 collection_name, generation_of, lexical_dir, lexical_files,
                                 live_generation, manifest_stamp, read_manifest, server_url)
from copilot.generations import write_json as _write_json  # noqa: F401
from copilot.glossary_zh import Expansion, expand
from copilot.ranking import DEFAULT as DEFAULT_RANKING
from copilot.ranking import Candidate, Ranking, fuse, query_type, relevance
from copilot.vectors import UNITS_FILE, TextVectors

KINDS = ("api", "doc", "faq", "paper", "tutorial", "user")
RRF_K = 60
_TABLE_FIELDS = ("title", "path", "kind", "heading", "symbol", "part")
HEADINGS_FILE = "headings.npz"  # heading vectors of the rerank stage, beside the chunk table


SHOUTED = re.compile(r"(?<![\w.`'-])[A-Z]{3,}(?![\w.`'-])")  # "STILL", "PER"
TYPO_CANDIDATE = re.compile(r"(?<![\w.`'])[a-z]{5,}(?![\w.`'])")  # parts of a hyphenated word too ("psuedo-counts")


class SearchError(ValueError):
    """An index that cannot be searched as asked; the message is one sentence."""


@dataclass(frozen=True)
class Record:
    """A chunk as stored: its id, text and metadata (title, path, kind, heading, symbol?)."""

    id: str
    text: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Hit:
    """One search result; ranks are 1-based and ``None`` where that ranking missed it."""

    id: str
    title: str
    path: str
    kind: str
    text: str
    score: float
    dense_rank: int | None
    bm25_rank: int | None
    heading: str = ""
    symbol: str | None = None
    symbol_rank: int | None = None
    relevance: float = 0.0  # calibrated 0..1: under about 0.35 the hit does not answer the query
    opens: bool = False  # the chunk begins its section (``part`` 0 of its heading's pieces)


def indexed_text(title: str, text: str) -> str:
    """What is embedded and BM25-tokenised for a chunk: its title line, then its text."""
    return f"{title}\n{text}" if title else text


def check_kinds(kinds: str | Iterable[str] | None) -> list[str] | None:
    """Normalise a kind filter; an unknown kind is refused."""
    if kinds is None:
        return None
    wanted = [kinds] if isinstance(kinds, str) else list(kinds)
    for kind in wanted:
        if kind not in KINDS:
            raise SearchError(f"Unknown kind {kind!r}; accepted: {', '.join(KINDS)}.")
    return sorted(set(wanted)) or None


def reciprocal_rank_fusion(*rankings: Sequence[str], k: int = RRF_K
                           ) -> list[tuple[str, float, tuple[int | None, ...]]]:
    """Fuse rankings: score = sum of ``1 / (k + rank)``; ties go to the better rank in the first.

    Returns ``(id, score, ranks)`` best first, with one 1-based rank (or ``None``) per ranking.
    """
    ranks: dict[str, list[int | None]] = {}
    for slot, ranking in enumerate(rankings):
        for rank, cid in enumerate(ranking, start=1):
            slots = ranks.setdefault(cid, [None] * len(rankings))
            if slots[slot] is None:
                slots[slot] = rank
    scores = {cid: sum(1.0 / (k + r) for r in slots if r is not None) for cid, slots in ranks.items()}
    order = sorted(ranks, key=lambda c: (-scores[c], *(r or 10**9 for r in ranks[c])))
    return [(cid, scores[cid], tuple(ranks[cid])) for cid in order]


def _chroma(index_dir: Path, embedder: Embedder, generation: int | None = None):
    """The Chroma store of ``generation`` (default: the one the manifest names), made if absent."""
    from langchain_chroma import Chroma

    if generation is None:
        generation = live_generation(read_manifest(index_dir))
    return Chroma(collection_name=collection_name(generation), embedding_function=embedder.as_langchain(),
                  client=chroma_client(index_dir), collection_configuration={"hnsw": {"space": "cosine"}})


class Index:
    """Dense + BM25 retrieval over the chunks in one index folder."""

    def __init__(self, index_dir: Path, embedder: Embedder, store: Any) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.store = store
        self._bm25: BM25 | None = None
        self._table: dict[str, list] = {}
        self._rows: dict[str, int] = {}
        self._kinds = np.zeros(0, dtype=str)
        self._symbols = SymbolTable([])
        self._stamp: Any = None  # identity of the manifest and chunk table this process loaded
        self._units: TextVectors | None = None

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None, create: bool = False) -> "Index":
        """Open the index in ``settings.index_dir``; ``create`` makes an empty one if absent."""
        index_dir = Path(settings.index_dir)
        if not create:
            manifest = read_manifest(index_dir)
            if manifest is None:
                raise SearchError(f"No index found in {str(index_dir)!r}; "
                                  "run `python -m copilot ingest` first.")
            built, wanted = manifest["embedder"]["name"], embedder_name(settings.embedder)
            if built != wanted:
                raise SearchError(f"The index was built with embedder {built!r} but the embedder setting is "
                                  f"{wanted!r}; set it back or re-run ingest with --rebuild.")
        index_dir.mkdir(parents=True, exist_ok=True)
        embedder = embedder or get_embedder(settings.embedder)
        index = cls(index_dir, embedder, _chroma(index_dir, embedder))
        if not create:
            index.load_lexical()
        return index

    @classmethod
    def open_generation(cls, index_dir: Path, embedder: Embedder, generation: int) -> "Index":
        """One generation's store, made if absent (its folder first, so a leftover is found)."""
        lexical_dir(index_dir, generation).mkdir(parents=True, exist_ok=True)
        return cls(index_dir, embedder, _chroma(Path(index_dir), embedder, generation))

    @property
    def generation(self) -> int:
        return generation_of(self.store._collection.name)

    @property
    def units(self) -> TextVectors:
        """Vectors of the chunks' evidence sentences (filled at ingest, :mod:`copilot.vectors`),
        shared by the rerank stage and the answer's evidence and grounding."""
        path = lexical_dir(self.index_dir, self.generation) / UNITS_FILE
        if self._units is None or self._units.path != path:
            self._units = TextVectors(path, self.embedder, threads=None)
        return self._units

    # ----- writing (used by ingest) -----
    def upsert(self, records: Sequence[Record], embeddings: np.ndarray) -> None:
        if records:
            self.store._collection.upsert(ids=[r.id for r in records], documents=[r.text for r in records],
                                          metadatas=[r.metadata for r in records],
                                          embeddings=np.asarray(embeddings, dtype=np.float32))

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 1000):
            self.store.delete(ids=ids[start:start + 1000])

    def ids(self) -> set[str]:
        return set(self.store.get(include=[])["ids"])

    def count(self) -> int:
        return int(self.store._collection.count())

    def stored(self, records: Sequence[Record]) -> set[str]:
        """Ids of ``records`` stored already with the same text and title (so the same vector);
        where their other metadata differ (a piece's ``part``), the stored ones are updated."""
        wanted = {r.id: r for r in records}
        ids, same, stale = list(wanted), set(), []
        for start in range(0, len(ids), 1000):
            got = self.store._collection.get(ids=ids[start:start + 1000], include=["documents", "metadatas"])
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                record = wanted[cid]
                if text == record.text and (meta or {}).get("title") == record.metadata.get("title"):
                    same.add(cid)
                    if (meta or {}) != record.metadata:
                        stale.append(record)
        for start in range(0, len(stale), 1000):
            batch = stale[start:start + 1000]
            self.store._collection.update(ids=[r.id for r in batch], metadatas=[r.metadata for r in batch])
        return same

    def wipe(self) -> None:
        """Empty the collection and forget the BM25 state."""
        self.store.reset_collection()
        for path in lexical_files(self.index_dir, self.generation):
            path.unlink(missing_ok=True)
        self._set_lexical(None, {"id": []})

    def refresh_lexical(self, persist: bool = True) -> None:
        """Rebuild BM25 and the chunk table from the Chroma store (and save them: ingest only)."""
        data = self.store.get(include=["documents", "metadatas"])
        table: dict[str, list] = {"id": list(data["ids"]), "text": list(data["documents"])}
        metas = [m or {} for m in data["metadatas"]]
        for name in _TABLE_FIELDS:
            table[name] = [m.get(name) for m in metas]
        texts = (indexed_text(t or "", x or "") for t, x in zip(table["title"], table["text"]))
        bm25 = BM25.build(tokenize(t) for t in texts)
        self._set_lexical(bm25, table)
        if persist:
            bm25_path, table_path = lexical_files(self.index_dir, self.generation)
            bm25_path.parent.mkdir(parents=True, exist_ok=True)
            bm25.save(bm25_path)
            _write_json(table_path, table)
            self._stamp = self._table_stamp()

    def _table_stamp(self) -> tuple:
        """Changes whenever the manifest or this generation's chunk table is replaced."""
        stamp = [manifest_stamp(self.index_dir)]
        try:
            st = lexical_files(self.index_dir, self.generation)[1].stat()
            stamp.append((st.st_ino, st.st_mtime_ns))
        except FileNotFoundError:
            stamp.append(None)
        return tuple(stamp)

    def _set_lexical(self, bm25: BM25 | None, table: dict[str, list]) -> None:
        self._bm25, self._table = bm25, table
        self._rows = {cid: i for i, cid in enumerate(table["id"])}
        self._symbols = SymbolTable(table.get("symbol", []))
        self._kinds = np.array([k or "" for k in table.get("kind", [])], dtype=str)
        self._names: dict[str, set[str]] | None = None  # the corpus's acronyms, read on first use
        self._lower: str | None = None  # the corpus text in lower case, joined on first use
        self._head_text: str | None = None  # every chunk's heading path in lower case, joined on first use
        self._capitals: set[str] | None = None  # the words the corpus writes in capitals, read on first use

    def _corpus_text(self) -> str:
        """Every chunk's title and text, one after the other."""
        titles = self._table.get("title") or [""] * len(self._table["text"])
        return "\n".join(f"{title or ''}\n{text or ''}" for title, text in zip(titles, self._table["text"]))

    def _folded(self, tokens: list[str]) -> list[str]:
        """``tokens`` with a method's spelled-out name ("soft actor critic") read as its acronym
        ("sac"), as the corpus spells it out: one name weighs as one word, not three that
        outweigh what the question asks about it (alpha)."""
        if self._names is None:
            self._names = acronyms(self._corpus_text(), lambda text: set(tokenize(text)))
        return as_acronyms(tokens, self._names)

    def load_lexical(self) -> None:
        """Load BM25 and the chunk table; when missing or out of step with Chroma, rebuild them
        in memory (ingest, which holds the writer lock, is the only one that saves them into an
        index folder; with a Chroma server the folder holds only caches, so they are saved)."""
        stamp = self._table_stamp()
        try:
            bm25_path, table_path = lexical_files(self.index_dir, self.generation)
            table = json.loads(table_path.read_text(encoding="utf-8"))
            bm25 = BM25.load(bm25_path)
            fits = len(table["id"]) == bm25.n_docs and set(table["id"]) == self.ids()
        except Exception:  # noqa: BLE001 - derived files, missing or damaged: rebuilt from Chroma
            fits = False
        cache = server_url(self.index_dir) is not None
        if fits:
            self._set_lexical(bm25, table)
        else:
            self.refresh_lexical(persist=cache)
        if cache and not fits:  # the manifest as read before the rebuild, the table as just saved
            stamp = (stamp[0], self._table_stamp()[1])
        self._stamp = stamp

    # ----- reading -----
    def _dense(self, vector: np.ndarray, depth: int, kinds: list[str] | None) -> list[tuple[str, Any, float]]:
        """The ``depth`` nearest chunks as ``(id, document, cosine similarity)``."""
        where = None if not kinds else ({"kind": kinds[0]} if len(kinds) == 1 else {"kind": {"$in": kinds}})
        found = self.store.similarity_search_by_vector_with_relevance_scores(
            vector.tolist(), k=depth, filter=where)
        return [(doc.id, doc, 1.0 - float(distance)) for doc, distance in found]

    def _cosines(self, ids: list[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine similarity of the query to chunks that the dense ranking did not return."""
        if not ids:
            return {}
        got = self.store._collection.get(ids=ids, include=["embeddings"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
        return dict(zip(got["ids"], (vectors @ vector.astype(np.float32)).tolist()))

    def _lexical(self, scores: np.ndarray, depth: int, kinds: list[str] | None) -> list[int]:
        assert self._bm25 is not None
        if kinds:
            scores = np.where(np.isin(self._kinds, kinds), scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if positive.size > depth:
            positive = positive[np.argpartition(-scores[positive], depth - 1)[:depth]]
        return positive[np.argsort(-scores[positive], kind="stable")].tolist()

    def _symbol_rows(self, query: str, depth: int, kinds: list[str] | None) -> list[tuple[int, float]]:
        """Rows whose symbol the query names: 1.0 for the whole symbol, 0.5 for its last part."""
        full = set(self._symbols.lookup_full(query))
        rows = self._symbols.lookup(query)
        if kinds:
            rows = [row for row in rows if self._kinds[row] in kinds]
        return [(row, 1.0 if row in full else 0.5) for row in rows[:depth]]

    def _heading_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 of the query against each chunk's own heading (built once per chunk table)."""
        if getattr(self, "_heads_of", None) is not self._table:
            self._heads = BM25.build(tokenize(h or "") for h in self._table.get("heading", []))
            self._heads_of = self._table
        return self._heads.scores(tokens)

    def _heading_cosines(self, candidates: list[Candidate], vector: np.ndarray) -> None:
        """Cosine of the query to each candidate's own heading (embedded once per index)."""
        headings = self._table["heading"]
        heads = {c.id: headings[self._rows[c.id]] or "" for c in candidates if c.id in self._rows}
        path = lexical_dir(self.index_dir, self.generation) / HEADINGS_FILE
        if getattr(self, "_head_vectors", None) is None or self._head_vectors.path != path:
            self._head_vectors = TextVectors(path, self.embedder)
        cache = self._head_vectors.get(heads.values())
        for c in candidates:
            head = heads.get(c.id)
            c.heading_cosine = float(cache[head] @ vector) if head else 0.0

    def _unit_cosines(self, candidates: list[Candidate], vector: np.ndarray) -> None:
        """Cosine of the query to each candidate's closest sentence: a long chunk whose one
        sentence answers the question is not diluted by the rest of its text."""
        texts = {c.id: split_units(self._table["text"][self._rows[c.id]] or "")
                 for c in candidates if c.id in self._rows}
        # ingest filled these; a sentence it missed is embedded now and written with the
        # answer's (Copilot.stream saves after answering), not on the search path
        flat = [u for units in texts.values() for u in units]
        cosines = dict(zip(flat, (self.units.embed(flat) @ vector).tolist())) if flat else {}
        for c in candidates:
            units = texts.get(c.id)
            c.unit_cosine = max(cosines[u] for u in units) if units else c.cosine

    def _coverage(self, tokens: list[str]) -> float:
        """The share of the query's distinct words that occur anywhere in the index."""
        assert self._bm25 is not None
        words = {t for t in tokens if not "\u4e00" <= t[0] <= "\u9fff"}
        return sum(t in self._bm25.terms for t in words) / len(words) if words else 0.0

    def _hit(self, c: Candidate, doc: Any, relevance: float) -> Hit:
        row = self._rows.get(c.id)
        if row is not None:
            # a column an older version did not write ("part") reads as missing
            fields = {name: column[row] if (column := self._table.get(name)) else None
                      for name in ("text", *_TABLE_FIELDS)}
        else:
            fields = {"text": doc.page_content, **{n: doc.metadata.get(n) for n in _TABLE_FIELDS}}
        return Hit(id=c.id, title=fields["title"] or "", path=fields["path"] or "",
                   kind=fields["kind"] or "", text=fields["text"] or "", score=c.score, dense_rank=c.ranks[0],
                   bm25_rank=c.ranks[1], heading=fields["heading"] or "", symbol=fields["symbol"],
                   symbol_rank=c.ranks[2], relevance=relevance, opens=fields.get("part") == 0)

    def _fresh(self) -> None:
        if self._bm25 is None:
            self.load_lexical()
        elif self._stamp != self._table_stamp():  # an ingest elsewhere changed the chunks
            self.store = _chroma(self.index_dir, self.embedder)  # the collection may be a new one
            self.load_lexical()

    def _candidates(self, query: str, reading: Expansion, vector: np.ndarray, depth: int,
                    kinds: list[str] | None) -> tuple[list[Candidate], dict[str, Any], list[str]]:
        """Dense, BM25 and symbol candidates with every signal filled in."""
        tokens = self._folded(tokenize(query) + tokenize(" ".join(reading.english)))
        scores = self._bm25.scores(tokens)
        ids = self._table["id"]
        found: dict[str, Candidate] = {}

        def take(cid: str) -> Candidate:
            row = self._rows.get(cid)
            kind = self._kinds[row] if row is not None else ""
            return found.setdefault(cid, Candidate(cid, kind=str(kind)))

        dense = self._dense(vector, depth, kinds)
        for rank, (cid, _doc, cosine) in enumerate(dense, start=1):
            take(cid).ranks[0], found[cid].cosine = rank, cosine
        for rank, row in enumerate(self._lexical(scores, depth, kinds), start=1):
            take(ids[row]).ranks[1], found[ids[row]].bm25 = rank, float(scores[row])
        for rank, (row, match) in enumerate(self._symbol_rows(query, depth, kinds), start=1):
            c = take(ids[row])
            c.ranks[2], c.symbol, c.bm25 = rank, match, float(scores[row])
        heads = self._heading_scores(tokens)
        for cid, c in found.items():
            row = self._rows.get(cid)
            if row is not None:
                c.heading, c.chars = float(heads[row]), len(self._table["text"][row] or "")
        missing = [cid for cid, c in found.items() if c.ranks[0] is None]
        for cid, cosine in self._cosines(missing, vector).items():
            found[cid].cosine = cosine
        return list(found.values()), {cid: doc for cid, doc, _ in dense}, tokens

    def correct(self, query: str) -> str:
        """``query`` with its misspelt words mended ("targt network" -> "target network"): a
        lower-case word of five letters or more that no chunk holds and that is one edit from
        a word that several do. Names (capitalised, acronyms) are left alone, so that a name
        the corpus lacks stays missing rather than turning into a word it has; a word in capitals
        that the corpus never writes so but holds in lower case is emphasis ("they STILL count")
        and is read in lower case."""
        self._fresh()

        def mend(m: re.Match) -> str:
            word = m.group(0)
            return self._bm25.nearest_term(word) or word

        def calm(m: re.Match) -> str:  # a word in capitals for emphasis ("they STILL count") is no name
            word = m.group(0)
            return word.lower() if word not in self._shouted() and self.knows(word.lower()) else word

        return SHOUTED.sub(calm, TYPO_CANDIDATE.sub(mend, query))

    def _shouted(self) -> set[str]:
        """The words of three capitals or more that the corpus writes as names (PER, SAC, IQM)."""
        if self._capitals is None:
            self._capitals = set(SHOUTED.findall(self._corpus_text()))
        return self._capitals

    def _lowered(self) -> str:
        """The corpus text in lower case, joined on first use."""
        self._fresh()
        if self._lower is None:
            self._lower = self._corpus_text().lower()
        return self._lower

    def headed(self, name: str) -> bool:
        """Whether some chunk's heading path names ``name`` (a whole word, case aside): a subject
        the docs give a page or a section of their own (PPO), not one they name only in passing
        ("model-based (Dreamer) learners")."""
        self._fresh()
        if self._head_text is None:
            self._head_text = "\n".join(t or "" for t in self._table.get("title") or []).lower()
        return re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", self._head_text) is not None

    def mentions(self, text: str) -> bool:
        """Whether some chunk holds ``text`` as written, case aside (a CLI flag: "--record-video")."""
        return text.lower() in self._lowered()

    def knows(self, word: str) -> bool:
        """Whether any chunk holds ``word`` (lower case) in some form (see :meth:`BM25.knows`); a
        hyphenated word also as written, spaced or joined ("one-step", "one step", "onestep")."""
        self._fresh()
        parts = [p for p in word.split("-") if p]
        if len(parts) < 2:
            return self._bm25.knows(word)
        lowered = self._lowered()
        return any(sep.join(parts) in lowered for sep in ("-", " ", ""))

    def search(self, query: str, k: int = 5, kinds: str | Iterable[str] | None = None, *,
               cross_lingual: bool = True, ranking: Ranking | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query``, optionally only of the given kinds.

        Candidates come from three rankings (dense similarity, BM25, exact code-symbol
        matches) and are ordered by :func:`copilot.ranking.fuse`; each hit carries a 0..1
        ``relevance`` (:func:`copilot.ranking.relevance`) that says whether it answers at all.
        """
        if k < 1:
            raise SearchError(f"k must be at least 1, got {k}.")
        kinds = check_kinds(kinds)
        self._fresh()
        if not query.strip() or self._bm25.n_docs == 0:
            return []
        ranking = ranking or DEFAULT_RANKING
        reading = expand(query) if cross_lingual else Expansion((), (), query)
        vector = self.embedder.embed_query(reading.dense_query or query)
        candidates, docs, tokens = self._candidates(query, reading, vector, max(4 * k, ranking.depth), kinds)
        qtype = query_type(query)
        ordered = fuse(candidates, ranking, qtype)
        if ranking.heading_dense or ranking.unit_dense:  # rerank the best few by heading and sentence
            top = ordered[:max(k, ranking.rerank)]
            self._heading_cosines(top, vector)
            if ranking.unit_dense:
                self._unit_cosines(top, vector)
            ordered = fuse(top, ranking, qtype) + ordered[len(top):]
        ordered = ordered[:k]
        coverage = self._coverage(tokens)
        return [self._hit(c, docs.get(c.id), relevance(c.cosine, coverage)) for c in ordered]
