"""What ingest reads: files and folders (and rlcore's API reference) as sources, and their chunks.

Each chunk's id is the sha256 of its source path (relative to its root) and its text, so the
same content always gets the same id. A source's hash covers its kind, relative path and
bytes. Files that cannot be read (see :func:`copilot.loaders.read_source`) become
:class:`Skip` entries with a reason instead of stopping the ingest.

Kinds: files under a corpus root (``settings.corpus``) take theirs from the subfolder
(``docs`` -> doc, ``tutorials`` -> tutorial, ``papers`` -> paper, ``faq`` -> faq); anything
else a user ingests is ``user``; the generated API reference is ``api``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from copilot.apiref import ApiReference, api_reference_isolated, package_fingerprint
from copilot.chunking import Piece
from copilot.config import Settings
from copilot.index import Record
from copilot.loaders import LOADERS, SKIP_REASONS, Unreadable, load, read_source, supported

PIPELINE_VERSION = "4"  # part of every source hash: bump it when loading or splitting changes
KIND_DIRS = {"docs": "doc", "tutorials": "tutorial", "papers": "paper", "faq": "faq"}
SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv"}


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

    def entry(self, records: Sequence[Record]) -> dict[str, Any]:
        """This source's manifest entry once ``records`` are stored."""
        return {"hash": self.digest, "kind": self.kind, "path": self.display, "rel": self.rel,
                "chunks": [r.id for r in records]}


@dataclass(frozen=True)
class Skip:
    """A file ingest did not read: where, and why (a key of ``copilot.loaders.SKIP_REASONS``)."""

    path: str
    reason: str
    message: str


@dataclass
class Scope:
    """What this ingest covers: manifest entries in scope but not seen are removed."""

    dirs: list[Path] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    api: list[ApiReference] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)  # package -> hash of its source files
    skipped: list[Skip] = field(default_factory=list)

    def covers(self, key: str) -> bool:
        if key.startswith("api:"):
            module = key[4:]
            return any(ref.imported and (module == ref.package or module.startswith(ref.package + "."))
                       and module not in ref.failed for ref in self.api)
        return key in self.files or any(Path(key).is_relative_to(d) for d in self.dirs)


def digest(*parts: bytes) -> str:
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def file_source(file: Path, root: Path, corpus: bool, kind: str | None = None, rel: str | None = None) -> Source:
    """The source of one file; :class:`copilot.loaders.Unreadable` when it cannot be read."""
    rel = rel or file.relative_to(root).as_posix()
    if corpus:
        kind = kind or KIND_DIRS.get(rel.split("/", 1)[0], "doc")
        display = f"{root.name}/{rel}"
    else:
        kind, display = kind or "user", str(file)
    name = rel[:-3].replace("/", ".") if file.suffix == ".py" else file.stem
    src = Source(str(file), kind, rel, display, name, file=file)
    src.digest = digest(kind.encode(), rel.encode(), read_source(file))
    return src


def _walk(folder: Path, scope: Scope) -> list[Path]:
    found: list[Path] = []

    def unreadable_dir(exc: OSError) -> None:
        where = str(exc.filename or folder)
        scope.skipped.append(Skip(where, "unreadable", f"folder not readable ({exc.strerror})"))

    inside = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(f for f in filenames if not f.startswith(".") and supported(Path(f))):
            if name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") != name:
                shown = os.path.join(dirpath, name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                scope.skipped.append(Skip(shown, "unreadable", "unreadable (the file name is not UTF-8)"))
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and os.path.commonpath([inside, os.path.realpath(path)]) != inside:
                # A link inside the folder must not bring in a file from anywhere else on the machine.
                scope.skipped.append(Skip(path, "link_outside", SKIP_REASONS["link_outside"]))
                continue
            found.append(Path(path))
    return found


def _sources_of(files: list[Path], root: Path, corpus: bool, scope: Scope) -> list[Source]:
    out: list[Source] = []
    for file in files:
        try:
            out.append(file_source(file, root, corpus))
        except Unreadable as exc:
            shown = f"{root.name}/{file.relative_to(root).as_posix()}" if corpus else str(file)
            scope.skipped.append(Skip(shown, exc.reason, str(exc)))
    return out


def _absolute(raw: str) -> Path:
    """The resolved path; a link that loops or leads nowhere keeps its own name (and is skipped)."""
    path = Path(raw).expanduser()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))
    return resolved if os.path.lexists(resolved) else Path(os.path.abspath(path))


def _collect_path(raw: str, corpus_roots: list[Path], scope: Scope, explicit: bool) -> list[Source]:
    path = _absolute(raw)
    if not os.path.lexists(path):
        if explicit:
            raise IngestError(f"Path {raw!r} does not exist; give existing files or folders to ingest.")
        warnings.warn(f"Corpus folder {raw!r} does not exist; skipping it.", stacklevel=3)
        return []
    if not path.is_dir() and not supported(path):
        raise IngestError(f"Cannot ingest {raw!r}: supported file types are "
                          f"{', '.join(sorted(LOADERS))}.")
    owner = next((r for r in corpus_roots if path == r or path.is_relative_to(r)), None)
    root = owner or (path if path.is_dir() else path.parent)
    if path.is_dir():
        scope.dirs.append(path)
        return _sources_of(_walk(path, scope), root, owner is not None, scope)
    scope.files.add(str(path))
    return _sources_of([path], root, owner is not None, scope)


def entry_source(key: str, entry: dict[str, Any]) -> Source:
    """A file source made again from its manifest entry; ``Unreadable`` when the file cannot be read."""
    file, kind = Path(key), entry["kind"]
    if kind == "user":
        return file_source(file, file.parent, False, kind=kind, rel=entry.get("rel") or file.name)
    rel = entry.get("rel") or entry["path"].split("/", 1)[-1]
    root = Path(key[:-len(rel)]) if key.endswith("/" + rel) else file.parent
    return file_source(file, root, True, kind=kind, rel=rel)


def _reused_api_sources(package: str, previous: dict[str, Any]) -> list[Source]:
    """The API sources recorded last time, for a package whose source files did not change."""
    keys = [k for k in previous["sources"] if k == f"api:{package}" or k.startswith(f"api:{package}.")]
    return [Source(k, "api", k[4:], k[4:], k[4:], digest=previous["sources"][k]["hash"]) for k in keys]


def api_sources(packages: Sequence[str], scope: Scope, previous: dict[str, Any] | None) -> list[Source]:
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
                                  digest=digest(b"api", blob), pieces=pieces))
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
        sources.extend(api_sources(api_packages, scope, previous))
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
                "kind": source.kind, "heading": piece.heading, "part": piece.part}
        if piece.symbol:
            meta["symbol"] = piece.symbol
        out.setdefault(chunk_id, Record(chunk_id, text, meta))
    return list(out.values())
