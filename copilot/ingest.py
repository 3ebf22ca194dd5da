"""Ingest: files and folders (and rlcore's API reference) -> chunks -> embeddings -> the index.

Each chunk's id is the sha256 of its source path (relative to its root) and its text, so the
same content always gets the same id. ``manifest.json`` in the index folder records the
embedder (name and dimension), every source's hash and chunk ids, and counts. A re-ingest
reads and embeds only sources whose hash changed, removes the chunks of changed and deleted
sources, and refuses to mix embedders (``rebuild=True`` starts over). The API reference is
rebuilt (its package imported) only when a source file of the package changed.

Kinds: files under a corpus root (``settings.corpus``) take theirs from the subfolder
(``docs`` -> doc, ``tutorials`` -> tutorial, ``papers`` -> paper, ``faq`` -> faq); anything
else a user ingests is ``user``; the generated API reference is ``api``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from copilot.apiref import ApiReference, api_reference_isolated, package_fingerprint
from copilot.chunking import Piece
from copilot.config import Settings
from copilot.embeddings import Embedder, get_embedder
from copilot.index import BM25_FILE, MANIFEST, Index, Record, _write_json, indexed_text, read_manifest
from copilot.loaders import LoadError, load, supported

PIPELINE_VERSION = "1"  # part of every source hash: bump it when loading or splitting changes
KIND_DIRS = {"docs": "doc", "tutorials": "tutorial", "papers": "paper", "faq": "faq"}
SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv"}
EMBED_BATCH = 64


class IngestError(ValueError):
    """Ingest cannot go on; the message is one sentence naming the problem and the way out."""


@dataclass
class Source:
    """One thing to ingest: a file, or one module of the API reference."""

    key: str  # manifest key: the absolute file path, or "api:<module>"
    kind: str
    rel: str  # path relative to its root (hashed into chunk ids)
    display: str  # the ``path`` shown with its chunks
    name: str  # stands for the document where it has no title of its own
    digest: str = ""
    file: Path | None = None
    pieces: list[Piece] | None = None


@dataclass
class Scope:
    """What this ingest covers: manifest entries in scope but not seen are removed."""

    dirs: list[Path] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    api: list[ApiReference] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)  # package -> hash of its source files

    def covers(self, key: str) -> bool:
        if key.startswith("api:"):
            module = key[4:]
            return any(ref.imported and (module == ref.package or module.startswith(ref.package + "."))
                       and module not in ref.failed for ref in self.api)
        return key in self.files or any(Path(key).is_relative_to(d) for d in self.dirs)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _file_source(file: Path, root: Path, corpus: bool) -> Source:
    rel = file.relative_to(root).as_posix()
    if corpus:
        kind = KIND_DIRS.get(rel.split("/", 1)[0], "doc")
        display = f"{root.name}/{rel}"
    else:
        kind, display = "user", str(file)
    name = rel[:-3].replace("/", ".") if file.suffix == ".py" else file.stem
    src = Source(str(file), kind, rel, display, name, file=file)
    src.digest = _digest(kind.encode(), rel.encode(), file.read_bytes())
    return src


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        found.extend(Path(dirpath) / f for f in sorted(filenames)
                     if not f.startswith(".") and supported(Path(f)))
    return found


def _collect_path(raw: str, corpus_roots: list[Path], scope: Scope, explicit: bool) -> list[Source]:
    path = Path(raw).expanduser().resolve()
    if not path.exists():
        if explicit:
            raise IngestError(f"Path {raw!r} does not exist; give existing files or folders to ingest.")
        warnings.warn(f"Corpus folder {raw!r} does not exist; skipping it.", stacklevel=3)
        return []
    if path.is_file() and not supported(path):
        raise IngestError(f"Cannot ingest {raw!r}: supported file types are .htm, .html, .markdown, "
                          ".md, .pdf, .py, .rst, .txt.")
    owner = next((r for r in corpus_roots if path == r or path.is_relative_to(r)), None)
    root = owner or (path if path.is_dir() else path.parent)
    if path.is_dir():
        scope.dirs.append(path)
        return [_file_source(f, root, owner is not None) for f in _walk(path)]
    scope.files.add(str(path))
    return [_file_source(path, root, owner is not None)]


def _reused_api_sources(package: str, previous: dict[str, Any]) -> list[Source]:
    """The API sources recorded last time, for a package whose source files did not change."""
    keys = [k for k in previous["sources"] if k == f"api:{package}" or k.startswith(f"api:{package}.")]
    return [Source(k, "api", k[4:], k[4:], k[4:], digest=previous["sources"][k]["hash"]) for k in keys]


def _api_sources(packages: Sequence[str], scope: Scope, previous: dict[str, Any] | None) -> list[Source]:
    """API reference sources; a package whose files are unchanged since last time is not imported."""
    sources: list[Source] = []
    for package in packages:
        fingerprint = package_fingerprint(package)
        if fingerprint:
            scope.fingerprints[package] = fingerprint
        if previous and fingerprint and previous.get("api", {}).get(package) == fingerprint:
            sources.extend(_reused_api_sources(package, previous))
            continue
        ref = api_reference_isolated(package)
        scope.api.append(ref)
        for module, pieces in sorted(ref.modules.items()):
            if not pieces:
                continue
            blob = json.dumps([[p.title, p.heading, p.text, p.symbol] for p in pieces]).encode()
            sources.append(Source(f"api:{module}", "api", module, module, module,
                                  digest=_digest(b"api", blob), pieces=pieces))
    return sources


def collect(paths: Sequence[str] | None, settings: Settings, api_packages: Sequence[str] = ("rlcore",),
            previous: dict[str, Any] | None = None) -> tuple[list[Source], Scope]:
    """The sources to ingest and the scope they cover (``None``: the corpus and the API reference)."""
    corpus_roots = [Path(p).expanduser().resolve() for p in settings.corpus]
    scope = Scope()
    sources: list[Source] = []
    for raw in (settings.corpus if paths is None else paths):
        sources.extend(_collect_path(str(raw), corpus_roots, scope, explicit=paths is not None))
    if paths is None:
        sources.extend(_api_sources(api_packages, scope, previous))
    unique = {s.key: s for s in sources}
    return list(unique.values()), scope


def records_of(source: Source) -> list[Record]:
    """The chunks of one source, with content ids and metadata; duplicates dropped."""
    if source.pieces is None:
        assert source.file is not None
        source.pieces = load(source.file, source.name)
    out: dict[str, Record] = {}
    for piece in source.pieces:
        text = piece.text.strip()
        if not text:
            continue
        rel = piece.symbol if source.kind == "api" and piece.symbol else source.rel
        chunk_id = hashlib.sha256(f"{rel}\n{text}".encode()).hexdigest()
        meta = {"title": piece.title, "path": rel if source.kind == "api" else source.display,
                "kind": source.kind, "heading": piece.heading}
        if piece.symbol:
            meta["symbol"] = piece.symbol
        out.setdefault(chunk_id, Record(chunk_id, text, meta))
    return list(out.values())


def _check_embedder(manifest: dict[str, Any], embedder: Embedder) -> None:
    built = manifest.get("embedder", {}).get("name")
    if built != embedder.name:
        raise IngestError(f"The index was built with embedder {built!r} but the embedder setting is "
                          f"{embedder.name!r}; run ingest again with --rebuild to re-embed everything.")


def _embed_and_store(index: Index, embedder: Embedder, records: list[Record], progress: bool) -> None:
    with tqdm(total=len(records), desc="embedding", unit="chunk", file=sys.stderr,
              disable=not progress or not records) as bar:
        for start in range(0, len(records), EMBED_BATCH):
            batch = records[start:start + EMBED_BATCH]
            vectors = embedder.embed_documents([indexed_text(r.metadata["title"], r.text) for r in batch])
            index.upsert(batch, vectors)
            bar.update(len(batch))


def _load_changed(changed: list[Source], progress: bool) -> tuple[dict[str, list[Record]], list[str]]:
    loaded: dict[str, list[Record]] = {}
    failed: list[str] = []
    for source in tqdm(changed, desc="reading", unit="file", file=sys.stderr,
                       disable=not progress or not changed):
        try:
            loaded[source.key] = records_of(source)
        except (LoadError, OSError) as exc:
            warnings.warn(f"Skipping {source.display}: {exc}", stacklevel=2)
            failed.append(source.key)
    return loaded, failed


def _counts(sources: dict[str, Any]) -> dict[str, Any]:
    by_kind: dict[str, int] = {}
    for entry in sources.values():
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + len(entry["chunks"])
    return {"sources": len(sources), "chunks": sum(by_kind.values()), "by_kind": by_kind}


def ingest(paths: list[str] | None, settings: Settings, rebuild: bool = False, progress: bool = True, *,
           api_packages: Sequence[str] = ("rlcore",), embedder: Embedder | None = None) -> dict:
    """Bring the index up to date with ``paths`` (``None``: the corpus plus the API reference)."""
    started = time.perf_counter()
    embedder = embedder or get_embedder(settings.embedder)
    index_dir = Path(settings.index_dir)
    manifest = read_manifest(index_dir)
    if manifest is not None and not rebuild:
        _check_embedder(manifest, embedder)
    fresh_start = rebuild or manifest is None
    sources, scope = collect(paths, settings, api_packages, None if fresh_start else manifest)
    known: dict[str, Any] = {} if fresh_start else manifest["sources"]
    status: dict[str, str] = {}
    for source in sources:
        old = known.get(source.key)
        status[source.key] = "unchanged" if old and old["hash"] == source.digest else (
            "updated" if old else "added")
    changed = [s for s in sources if status[s.key] != "unchanged"]
    removed = [key for key in known if key not in status and scope.covers(key)]
    summary = {"files_seen": len(sources), "removed": len(removed), "failed": 0}
    if not (fresh_start or changed or removed) and (index_dir / BM25_FILE).is_file():
        summary.update(added=0, updated=0, unchanged=len(sources), chunks=manifest["counts"]["chunks"],
                       embedded=0, deleted_chunks=0, embedder=embedder.name,
                       by_kind=manifest["counts"]["by_kind"])
        fingerprints = {**manifest.get("api", {}), **scope.fingerprints}
        if fingerprints != manifest.get("api"):
            manifest["api"] = fingerprints
            _write_json(index_dir / MANIFEST, manifest)
    else:
        index = Index.open(settings, embedder=embedder, create=True)
        if fresh_start:
            index.wipe()
            manifest = {"version": 1, "embedder": {"name": embedder.name}, "sources": {}}
        manifest["api"] = {**manifest.get("api", {}), **scope.fingerprints}
        loaded, failed = _load_changed(changed, progress)
        summary.update(_apply(index, embedder, manifest, sources, status, loaded, removed, progress),
                       failed=len(failed))
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _apply(index: Index, embedder: Embedder, manifest: dict[str, Any], sources: list[Source],
           status: dict[str, str], loaded: dict[str, list[Record]], removed: list[str],
           progress: bool) -> dict[str, Any]:
    known: dict[str, Any] = manifest["sources"]
    stale: set[str] = set()
    for key in removed:
        stale.update(known.pop(key)["chunks"])
    fresh: dict[str, Record] = {}
    for source in sources:
        if source.key not in loaded:
            continue
        if source.key in known:
            stale.update(known[source.key]["chunks"])
        records = loaded[source.key]
        known[source.key] = {"hash": source.digest, "kind": source.kind, "path": source.display,
                             "chunks": [r.id for r in records]}
        fresh.update((r.id, r) for r in records)
    _embed_and_store(index, embedder, list(fresh.values()), progress)
    referenced = {cid for entry in known.values() for cid in entry["chunks"]}
    orphans = (stale | index.ids()) - referenced
    index.delete(sorted(orphans))
    lexical_missing = not (index.index_dir / BM25_FILE).is_file()
    if fresh or orphans or lexical_missing:
        index.refresh_lexical()
    if "dim" not in manifest["embedder"] or fresh:
        manifest["embedder"] = {"name": embedder.name, "dim": int(embedder.dim)}
    manifest["counts"] = _counts(known)
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _write_json(index.index_dir / MANIFEST, manifest)
    done = {s.key for s in sources if status[s.key] == "unchanged"} | set(loaded)
    counts = {name: sum(1 for s in sources if status[s.key] == name and s.key in done)
              for name in ("added", "updated", "unchanged")}
    return {**counts, "chunks": manifest["counts"]["chunks"], "embedded": len(fresh),
            "deleted_chunks": len(orphans), "embedder": embedder.name,
            "by_kind": manifest["counts"]["by_kind"]}
