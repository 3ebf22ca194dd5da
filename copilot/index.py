"""The search index: a persistent Chroma collection (dense, cosine) plus BM25, fused by rank.

Layout of ``settings.index_dir``: ``chroma/`` (the Chroma store, the chunk store of record),
``bm25.npz`` + ``chunks.json`` (BM25 postings and the chunk table, rebuilt from Chroma when
missing or stale) and ``manifest.json`` (written by :mod:`copilot.ingest`).

Search embeds the query once, takes the top candidates of each ranking and fuses them by
reciprocal rank (``1 / (60 + rank)`` summed over the rankings). Questions in Chinese are
expanded with :mod:`copilot.glossary_zh` first, so they reach the English corpus.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from copilot.bm25 import BM25, SymbolTable, tokenize
from copilot.config import Settings
from copilot.embeddings import Embedder, embedder_name, get_embedder
from copilot.glossary_zh import Expansion, expand

COLLECTION = "copilot-chunks"
MANIFEST = "manifest.json"
BM25_FILE = "bm25.npz"
TABLE_FILE = "chunks.json"
KINDS = ("api", "doc", "faq", "paper", "tutorial", "user")
RRF_K = 60
_TABLE_FIELDS = ("title", "path", "kind", "heading", "symbol")


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


def indexed_text(title: str, text: str) -> str:
    """What is embedded and BM25-tokenised for a chunk: its title line, then its text."""
    return f"{title}\n{text}" if title else text


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = Path(index_dir) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


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


def _chroma(index_dir: Path, embedder: Embedder):
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    client = chromadb.PersistentClient(path=str(index_dir / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    return Chroma(collection_name=COLLECTION, embedding_function=embedder.as_langchain(), client=client,
                  collection_configuration={"hnsw": {"space": "cosine"}})


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
        self._stamp: int | None = None  # mtime of the chunk table this process loaded

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

    def wipe(self) -> None:
        """Empty the collection and forget the BM25 state."""
        self.store.reset_collection()
        for name in (BM25_FILE, TABLE_FILE):
            (self.index_dir / name).unlink(missing_ok=True)
        self._set_lexical(None, {"id": []})

    def refresh_lexical(self) -> None:
        """Rebuild BM25 and the chunk table from the Chroma store and save them."""
        data = self.store.get(include=["documents", "metadatas"])
        table: dict[str, list] = {"id": list(data["ids"]), "text": list(data["documents"])}
        metas = [m or {} for m in data["metadatas"]]
        for name in _TABLE_FIELDS:
            table[name] = [m.get(name) for m in metas]
        texts = (indexed_text(t or "", x or "") for t, x in zip(table["title"], table["text"]))
        bm25 = BM25.build(tokenize(t) for t in texts)
        bm25.save(self.index_dir / BM25_FILE)
        _write_json(self.index_dir / TABLE_FILE, table)
        self._set_lexical(bm25, table)
        self._stamp = self._table_stamp()

    def _table_stamp(self) -> int | None:
        try:
            return (self.index_dir / TABLE_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def _set_lexical(self, bm25: BM25 | None, table: dict[str, list]) -> None:
        self._bm25, self._table = bm25, table
        self._rows = {cid: i for i, cid in enumerate(table["id"])}
        self._symbols = SymbolTable(table.get("symbol", []))
        self._kinds = np.array([k or "" for k in table.get("kind", [])], dtype=str)

    def load_lexical(self) -> None:
        """Load BM25 and the chunk table, rebuilding them when missing or out of step with Chroma."""
        bm25_path, table_path = self.index_dir / BM25_FILE, self.index_dir / TABLE_FILE
        if bm25_path.is_file() and table_path.is_file():
            table = json.loads(table_path.read_text(encoding="utf-8"))
            bm25 = BM25.load(bm25_path)
            if len(table["id"]) == bm25.n_docs == self.count():
                self._set_lexical(bm25, table)
                self._stamp = self._table_stamp()
                return
        self.refresh_lexical()

    # ----- reading -----
    def _dense(self, vector: np.ndarray, depth: int, kinds: list[str] | None) -> list[tuple[str, Any]]:
        where = None if not kinds else ({"kind": kinds[0]} if len(kinds) == 1 else {"kind": {"$in": kinds}})
        found = self.store.similarity_search_by_vector_with_relevance_scores(
            vector.tolist(), k=depth, filter=where)
        return [(doc.id, doc) for doc, _distance in found]

    def _lexical(self, tokens: list[str], depth: int, kinds: list[str] | None) -> list[int]:
        assert self._bm25 is not None
        scores = self._bm25.scores(tokens)
        if kinds:
            scores = np.where(np.isin(self._kinds, kinds), scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if positive.size > depth:
            positive = positive[np.argpartition(-scores[positive], depth - 1)[:depth]]
        return positive[np.argsort(-scores[positive], kind="stable")].tolist()

    def _symbol_rows(self, query: str, depth: int, kinds: list[str] | None) -> list[int]:
        rows = self._symbols.lookup(query)
        if kinds:
            rows = [row for row in rows if self._kinds[row] in kinds]
        return rows[:depth]

    def _hit(self, chunk_id: str, row: int | None, doc: Any, score: float,
             ranks: tuple[int | None, ...]) -> Hit:
        if row is not None:
            fields = {name: self._table[name][row] for name in ("text", *_TABLE_FIELDS)}
        else:
            fields = {"text": doc.page_content, **{n: doc.metadata.get(n) for n in _TABLE_FIELDS}}
        return Hit(id=chunk_id, title=fields["title"] or "", path=fields["path"] or "",
                   kind=fields["kind"] or "", text=fields["text"] or "", score=score, dense_rank=ranks[0], bm25_rank=ranks[1],
                   heading=fields["heading"] or "", symbol=fields["symbol"], symbol_rank=ranks[2])

    def search(self, query: str, k: int = 5, kinds: str | Iterable[str] | None = None, *,
               cross_lingual: bool = True) -> list[Hit]:
        """The ``k`` best chunks for ``query``, optionally only of the given kinds.

        Three rankings are fused: dense similarity, BM25, and exact code-symbol matches.
        """
        if k < 1:
            raise SearchError(f"k must be at least 1, got {k}.")
        kinds = check_kinds(kinds)
        if self._bm25 is None:
            self.load_lexical()
        elif self._stamp != self._table_stamp():  # an ingest elsewhere changed the chunks
            self.store = _chroma(self.index_dir, self.embedder)  # the collection may be a new one
            self.load_lexical()
        if not query.strip() or self._bm25.n_docs == 0:
            return []
        reading = expand(query) if cross_lingual else Expansion((), (), query)
        depth = max(4 * k, 40)
        vector = self.embedder.embed_query(reading.dense_query or query)
        dense = self._dense(vector, depth, kinds)
        lexical = self._lexical(tokenize(query) + tokenize(" ".join(reading.english)), depth, kinds)
        ids = self._table["id"]
        fused = reciprocal_rank_fusion([cid for cid, _ in dense], [ids[row] for row in lexical],
                                       [ids[row] for row in self._symbol_rows(query, depth, kinds)])
        docs = dict(dense)
        return [self._hit(cid, self._rows.get(cid), docs.get(cid), score, ranks)
                for cid, score, ranks in fused[:k]]
