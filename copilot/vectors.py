"""Embeddings of short texts kept once per index: chunk headings and evidence sentences.

A question's evidence is built from the sentences of its retrieved chunks and every answer
sentence is checked against them (:mod:`copilot.evidence`, :mod:`copilot.grounding`); the
search reranks by chunk headings. The same few thousand texts come back question after
question, so their vectors are kept in memory and in a file beside the chunk table instead
of being embedded again for every answer.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from copilot.embeddings import QUERY_THREADS, torch_threads

UNITS_FILE = "units.npz"  # evidence-sentence vectors, beside the chunk table
MAX_TEXTS = 200_000  # past this many texts new vectors are used but not kept


class TextVectors:
    """Vectors of texts by their exact wording, in memory and in the file ``path``.

    A file written by another embedder is ignored; one that cannot be read or written leaves
    the vectors in memory only. ``threads`` caps torch's threads while embedding new texts
    (``None``: the embedder's own setting).
    """

    def __init__(self, path: Path, embedder: Any, threads: int | None = QUERY_THREADS) -> None:
        self.path, self.embedder, self.threads = Path(path), embedder, threads
        self.vectors = self._load()
        self.unsaved = 0  # texts embedded since the file was last written

    def _load(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if data["embedder"].tobytes().decode() != self.embedder.name:
                    return {}
                names = json.loads(data["names"].tobytes().decode())
                return dict(zip(names, np.asarray(data["vectors"], dtype=np.float32)))
        except (OSError, ValueError, KeyError):
            return {}

    def add(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Embed the texts not known yet; return their vectors (kept unless the cache is full)."""
        new = sorted({t for t in texts if t not in self.vectors})
        if not new:
            return {}
        if self.threads is None:
            vectors = self.embedder.embed_documents(new)
        else:
            with torch_threads(self.threads):
                vectors = self.embedder.embed_documents(new)
        fresh = dict(zip(new, np.asarray(vectors, dtype=np.float32)))
        if len(self.vectors) + len(fresh) <= MAX_TEXTS:
            self.vectors.update(fresh)
            self.unsaved += len(fresh)
        return fresh

    def get(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of the non-empty ``texts`` (and of every text seen before); new ones are
        embedded and the file is written at once."""
        self.add(t for t in texts if t)
        self.save()
        return self.vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` in order (an ``embed`` function for evidence and grounding);
        new texts are embedded now and written to the file by :meth:`save`."""
        fresh = self.add(texts)
        if not len(texts):
            return np.zeros((0, int(getattr(self.embedder, "dim", 1))), np.float32)
        return np.stack([fresh[t] if t in fresh else self.vectors[t] for t in texts])

    def save(self) -> None:
        """Write the vectors to the file (atomically) when any were added since the last write."""
        if not self.unsaved or not self.vectors:
            return
        names = list(self.vectors)
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, names=np.frombuffer(json.dumps(names).encode(), dtype=np.uint8),
                     vectors=np.stack([self.vectors[n] for n in names]),
                     embedder=np.frombuffer(self.embedder.name.encode(), dtype=np.uint8))
            os.replace(tmp, self.path)
            self.unsaved = 0
        except OSError:
            tmp.unlink(missing_ok=True)


def fill_units(path: Path, embedder: Any, chunks: Iterable[tuple[str, str]], progress: bool = False) -> int:
    """Embed, at ingest, the evidence sentences and titles of ``chunks`` ((title, text) pairs)
    that the file ``path`` lacks, so the first answers need no embedding of their own; returns
    how many were embedded."""
    from tqdm import tqdm

    from copilot.evidence import split_units

    cache = TextVectors(path, embedder, threads=None)
    todo = sorted({t for title, text in chunks for t in (title, *split_units(text))
                   if t and t not in cache.vectors})
    step = 256
    with tqdm(total=len(todo), desc="caching sentences", unit="sentence", file=sys.stderr,
              disable=not progress or not todo) as bar:
        for start in range(0, len(todo), step):
            cache.add(todo[start:start + step])
            bar.update(min(step, len(todo) - start))
    cache.save()
    return len(todo)
