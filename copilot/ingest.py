"""Ingest: sources (:mod:`copilot.sources`) -> chunks -> embeddings -> the index, crash-safe.

``manifest.json`` in the index folder records the embedder (name and dimension), the live
generation (:mod:`copilot.generations`), every source's hash and chunk ids, and counts. A
re-ingest reads and embeds only sources whose hash changed, removes the chunks of changed and
deleted sources, and refuses to mix embedders. The API reference is rebuilt (its package
imported) only when a source file of the package changed.

What a ``kill -9`` at any moment leaves behind:

- ``rebuild=True`` (and the first ingest) fills a new generation and switches to it by writing
  the manifest last, so the old index stays whole until the new one is; the old generation is
  deleted after the switch, and leftovers of an interrupted run by the next ingest.
- An incremental ingest writes in place. The manifest says ``"state": "writing"`` before the
  first change and records a source only after all its chunks are stored; the next ingest
  finds the state and reconciles: sources whose chunks are missing are embedded again (chunks
  stored already with the same text and metadata keep their vectors), chunks no source names
  are deleted, BM25 is rebuilt.
- :func:`copilot.ingest_check.check` (``ingest --check``) reports and repairs any mismatch.

Files that cannot be read are skipped, one line each through ``on_skip``, and counted by reason.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from copilot.bm25 import BM25
from copilot.config import Settings
from copilot.embeddings import Embedder, get_embedder
from copilot.generations import (collection_name, drop_generations, ingest_lock, leftover_generations,
                                 lexical_dir, lexical_files, live_generation, next_generation, read_manifest,
                                 write_manifest)
from copilot.index import Index, Record, indexed_text
from copilot.loaders import LoadError, Unreadable
from copilot.sources import PIPELINE_VERSION, IngestError, Scope, Skip, Source, collect, entry_source, records_of
from copilot.vectors import UNITS_FILE, fill_units

__all__ = ["IngestError", "ingest", "records_of"]

_BATCH = os.environ.get("COPILOT_EMBED_BATCH", "")
EMBED_BATCH = int(_BATCH) if _BATCH.isdigit() and int(_BATCH) > 0 else 64  # chunks embedded and stored at a time
STOP_ENV = "COPILOT_INGEST_STOP_AT"  # crash tests: stop the process (SIGSTOP) at this named point
Items = list[tuple[Source, list[Record]]]


def stop_point(name: str) -> None:
    """Where crash tests kill ingest: with ``COPILOT_INGEST_STOP_AT=name`` the process says so
    on stderr and stops itself, to be killed there."""
    if os.environ.get(STOP_ENV) == name:
        print(f"ingest stopped at {name}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)


def print_skip(skip: Skip) -> None:
    print(f"skipped {skip.path}: {skip.message}", file=sys.stderr, flush=True)


def check_embedder(manifest: dict[str, Any], embedder: Embedder) -> None:
    built = manifest.get("embedder", {}).get("name")
    if built != embedder.name:
        raise IngestError(f"The index was built with embedder {built!r} but the embedder setting is "
                          f"{embedder.name!r}; run ingest again with --rebuild to re-embed everything.")


def load_sources(sources: Sequence[Source], scope: Scope, progress: bool,
                 on_skip: Callable[[Skip], None]) -> Items:
    """Each source with its chunks; one that cannot be read is skipped (and reported)."""
    items: Items = []
    for source in tqdm(sources, desc="reading", unit="file", file=sys.stderr, disable=not progress or not sources):
        try:
            items.append((source, records_of(source)))
        except LoadError as exc:
            skip = Skip(source.display, getattr(exc, "reason", "unreadable"), str(exc))
            scope.skipped.append(skip)
            on_skip(skip)
    return items


def store_items(index: Index, embedder: Embedder, items: Items, progress: bool,
                done: Callable[[Items], None], resume: bool = True) -> int:
    """Embed and store the chunks of ``items``, calling ``done`` with the sources whose chunks are
    all stored; chunks stored already with the same text and metadata are not embedded again."""
    seen = index.stored([r for _, records in items for r in records]) if resume else set()
    todo = len({r.id for _, records in items for r in records} - seen)
    batch: list[Record] = []
    waiting: Items = []
    embedded = upserts = 0
    with tqdm(total=todo, desc="embedding", unit="chunk", file=sys.stderr, disable=not progress or not todo) as bar:
        def flush() -> None:
            nonlocal embedded, upserts
            for start in range(0, len(batch), EMBED_BATCH):
                part = batch[start:start + EMBED_BATCH]
                index.upsert(part, embedder.embed_documents([indexed_text(r.metadata["title"], r.text)
                                                             for r in part]))
                embedded, upserts = embedded + len(part), upserts + 1
                bar.update(len(part))
                stop_point(f"batch-{upserts}")
            batch.clear()
            if waiting:
                done(list(waiting))
                waiting.clear()

        for source, records in items:
            for record in records:
                if record.id not in seen:
                    seen.add(record.id)
                    batch.append(record)
            waiting.append((source, records))
            if len(batch) >= EMBED_BATCH:
                flush()
        flush()
    return embedded


def cache_sentences(index: Index, embedder: Embedder, items: Items, progress: bool) -> int:
    """Embed the evidence sentences of the new chunks once, beside the chunk table
    (:mod:`copilot.vectors`): answers then look them up instead of embedding them."""
    chunks = [(r.metadata.get("title") or "", r.text) for _, records in items for r in records]
    return fill_units(lexical_dir(index.index_dir, index.generation) / UNITS_FILE, embedder, chunks, progress)


def _counts(sources: dict[str, Any]) -> dict[str, Any]:
    by_kind: dict[str, int] = {}
    for entry in sources.values():
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + len(entry["chunks"])
    return {"sources": len(sources), "chunks": sum(by_kind.values()), "by_kind": by_kind}


def finish(index: Index, embedder: Embedder, manifest: dict[str, Any], embedded: int) -> int:
    """Delete chunks no source names, rebuild BM25 and mark the manifest ready (not written here)."""
    referenced = {cid for entry in manifest["sources"].values() for cid in entry["chunks"]}
    stop_point("orphans")
    orphans = index.ids() - referenced
    index.delete(sorted(orphans))
    stop_point("lexical")
    index.refresh_lexical()
    if embedded or "dim" not in manifest["embedder"]:
        manifest["embedder"] = {"name": embedder.name, "dim": int(embedder.dim)}
    manifest.update(counts=_counts(manifest["sources"]), state="ready",
                    updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return len(orphans)


def apply_in_place(index: Index, embedder: Embedder, manifest: dict[str, Any], items: Items,
                   removed: Sequence[str], progress: bool, api: dict[str, str] | None = None) -> tuple[int, int]:
    """Change the live generation: the manifest is marked ``writing`` before the first change and
    records each source once its chunks are stored; ``api`` (package fingerprints) is recorded
    last, so an interrupted run imports the package again. Returns (chunks embedded, deleted)."""
    for key in removed:
        manifest["sources"].pop(key, None)
    manifest["state"] = "writing"
    write_manifest(index.index_dir, manifest)

    def done(stored: Items) -> None:
        manifest["sources"].update((s.key, s.entry(records)) for s, records in stored)
        write_manifest(index.index_dir, manifest)

    embedded = store_items(index, embedder, items, progress, done)
    cache_sentences(index, embedder, items, progress)
    deleted = finish(index, embedder, manifest, embedded)
    if api is not None:
        manifest["api"] = api
    stop_point("ready")
    write_manifest(index.index_dir, manifest)
    return embedded, deleted


def _outcome(status: dict[str, str], done: set[str], embedded: int, deleted: int, manifest: dict[str, Any],
             embedder: Embedder) -> dict[str, Any]:
    counts = {name: sum(1 for key, s in status.items() if s == name and key in done)
              for name in ("added", "updated", "unchanged")}
    return {**counts, "chunks": manifest["counts"]["chunks"], "embedded": embedded, "deleted_chunks": deleted,
            "embedder": embedder.name, "by_kind": manifest["counts"]["by_kind"]}


def _rebuild(index_dir: Path, embedder: Embedder, old: dict[str, Any] | None, sources: list[Source],
             scope: Scope, progress: bool, on_skip: Callable[[Skip], None]) -> dict[str, Any]:
    """Fill a new generation and switch to it by writing the manifest last; then drop the old one."""
    drop_generations(index_dir, keep=live_generation(old) if old else -1)  # leftovers of a killed run
    generation = next_generation(index_dir, old)
    index = Index.open_generation(index_dir, embedder, generation)
    manifest: dict[str, Any] = {"version": 2, "generation": generation, "collection": collection_name(generation),
                                "embedder": {"name": embedder.name}, "api": dict(scope.fingerprints), "sources": {}}
    items = load_sources(sources, scope, progress, on_skip)
    if not items and scope.skipped:  # nothing could be read: keep what there is
        drop_generations(index_dir, keep=live_generation(old) if old else -1)
        counts = (old or {}).get("counts", {"chunks": 0, "by_kind": {}})
        return {"removed": 0, "added": 0, "updated": 0, "unchanged": 0, "chunks": counts["chunks"], "embedded": 0,
                "deleted_chunks": 0, "embedder": embedder.name, "by_kind": counts["by_kind"]}

    def done(stored: Items) -> None:
        manifest["sources"].update((s.key, s.entry(records)) for s, records in stored)

    embedded = store_items(index, embedder, items, progress, done, resume=False)
    cache_sentences(index, embedder, items, progress)
    finish(index, embedder, manifest, embedded)
    stop_point("switch")
    write_manifest(index_dir, manifest)
    stop_point("gc")
    drop_generations(index_dir, keep=generation)
    status = {s.key: "added" for s in sources}
    return {"removed": 0, **_outcome(status, {s.key for s, _ in items}, embedded, 0, manifest, embedder)}


def broken_sources(index: Index, manifest: dict[str, Any]) -> list[str]:
    """Manifest entries with chunks that are not in the store."""
    stored = index.ids()
    return [key for key, entry in manifest["sources"].items() if not set(entry["chunks"]) <= stored]


def repair_sources(keys: Sequence[str], manifest: dict[str, Any], on_skip: Callable[[Skip], None]
                   ) -> tuple[list[Source], list[str]]:
    """Sources to embed again for manifest entries (files read afresh, API modules re-imported),
    and the keys of entries that are gone (file unreadable, module no longer documented)."""
    from copilot.sources import api_sources

    sources, gone = [], []
    api_keys = [k for k in keys if k.startswith("api:")]
    for key in keys:
        if key.startswith("api:"):
            continue
        try:
            sources.append(entry_source(key, manifest["sources"][key]))
        except Unreadable as exc:
            on_skip(Skip(manifest["sources"][key]["path"], exc.reason, str(exc)))
            gone.append(key)
    if api_keys:
        packages = {next((p for p in manifest.get("api", {}) if k[4:] == p or k[4:].startswith(p + ".")),
                         k[4:].split(".")[0]) for k in api_keys}
        scope = Scope()
        found = {s.key: s for s in api_sources(sorted(packages), scope, None)}  # fingerprints not taken:
        # other modules of the package may have changed too, and only a full ingest takes them in
        sources += [found[k] for k in api_keys if k in found]
        gone += [k for k in api_keys if k not in found]
    return sources, gone


def _reconcile(index: Index, manifest: dict[str, Any], sources: list[Source], status: dict[str, str],
               removed: list[str], on_skip: Callable[[Skip], None]) -> list[Source]:
    """The sources to (re)load once entries with chunks missing from the store count as changed.

    A broken entry this run has read (a file, or a freshly imported module) is loaded again as
    it is; one it only carried over (an unchanged package, or outside this run's paths) is made
    afresh from its manifest entry. Entries that cannot be made are added to ``removed``.
    """
    broken = set(broken_sources(index, manifest))
    by_key = {s.key: s for s in sources}
    readable = {k for k in broken if k in by_key and (by_key[k].file or by_key[k].pieces is not None)}
    for key in readable:
        status[key] = "updated" if status[key] == "unchanged" else status[key]
    extra, gone = repair_sources(sorted(broken - readable - set(removed)), manifest, on_skip)
    for source in extra:
        status[source.key] = "updated"
    for key in gone:
        status.pop(key, None)
    removed += [key for key in gone if key not in removed]
    remade = {s.key for s in extra}
    return [s for s in sources if status.get(s.key, "unchanged") != "unchanged" and s.key not in remade] + extra


def _update(index_dir: Path, embedder: Embedder, manifest: dict[str, Any], sources: list[Source],
            scope: Scope, progress: bool, on_skip: Callable[[Skip], None]) -> dict[str, Any]:
    """Bring the live generation up to date in place, reconciling it first after an interrupted run."""
    generation = live_generation(manifest)
    known = manifest["sources"]
    status = {s.key: ("added" if s.key not in known else "unchanged" if known[s.key]["hash"] == s.digest
                      else "updated") for s in sources}
    removed = [key for key in known if key not in status and scope.covers(key)]
    bm25_file, table_file = lexical_files(index_dir, generation)
    # postings of another tokenizer version count as missing: BM25 is rebuilt
    clean = manifest.get("state") == "ready" and table_file.is_file() and BM25.current(bm25_file)
    leftovers = leftover_generations(index_dir, generation)
    changed = [s for s in sources if status[s.key] != "unchanged"]
    fingerprints = {**manifest.get("api", {}), **scope.fingerprints}
    if clean and not (changed or removed):
        if leftovers:
            drop_generations(index_dir, keep=generation)
        if fingerprints != manifest.get("api"):
            manifest["api"] = fingerprints
            write_manifest(index_dir, manifest)
        return {"removed": 0, "added": 0, "updated": 0, "unchanged": len(sources),
                "chunks": manifest["counts"]["chunks"], "embedded": 0, "deleted_chunks": 0,
                "embedder": embedder.name, "by_kind": manifest["counts"]["by_kind"]}
    index = Index.open_generation(index_dir, embedder, generation)
    if leftovers:
        drop_generations(index_dir, keep=generation)
    if not clean:  # the last run was cut short: what the manifest names must be in the store
        changed = _reconcile(index, manifest, sources, status, removed, on_skip)
    items = load_sources(changed, scope, progress, on_skip)
    embedded, deleted = apply_in_place(index, embedder, manifest, items, removed, progress, api=fingerprints)
    done = {k for k, s in status.items() if s == "unchanged"} | {s.key for s, _ in items}
    return {"removed": len(removed), **_outcome(status, done, embedded, deleted, manifest, embedder)}


def _skip_counts(scope: Scope) -> dict[str, Any]:
    by_reason: dict[str, int] = {}
    for skip in scope.skipped:
        by_reason[skip.reason] = by_reason.get(skip.reason, 0) + 1
    return {"skipped": len(scope.skipped), "skipped_by_reason": by_reason}


def index_state(settings: Settings) -> str:
    """"missing" (no index yet), "outdated" (the corpus was last read by an older loading and
    splitting pipeline: an ingest brings it up to date, keeping the vectors of unchanged text)
    or "ready"."""
    manifest = read_manifest(Path(settings.index_dir))
    if manifest is None:
        return "missing"
    return "ready" if manifest.get("pipeline") == PIPELINE_VERSION else "outdated"


def ingest(paths: list[str] | None, settings: Settings, rebuild: bool = False, progress: bool = True, *,
           api_packages: Sequence[str] = ("rlcore",), embedder: Embedder | None = None,
           on_skip: Callable[[Skip], None] = print_skip) -> dict:
    """Bring the index up to date with ``paths`` (``None``: the corpus plus the API reference).

    Returns a summary: sources added/updated/unchanged/removed, files skipped (by reason),
    chunks embedded and deleted, chunk counts by kind, seconds.
    """
    started = time.perf_counter()
    embedder = embedder or get_embedder(settings.embedder)
    index_dir = Path(settings.index_dir)
    with ingest_lock(index_dir):
        manifest = read_manifest(index_dir)
        if manifest is not None and not rebuild:
            check_embedder(manifest, embedder)
        fresh = rebuild or manifest is None
        sources, scope = collect(paths, settings, api_packages, None if fresh else manifest)
        for skip in scope.skipped:
            on_skip(skip)
        found = len(sources) + len(scope.skipped)
        if fresh:
            summary = _rebuild(index_dir, embedder, manifest, sources, scope, progress, on_skip)
        else:
            summary = _update(index_dir, embedder, manifest, sources, scope, progress, on_skip)
        current = read_manifest(index_dir) if paths is None else None  # the corpus and API, read by this code
        if current is not None and current.get("pipeline") != PIPELINE_VERSION:
            current["pipeline"] = PIPELINE_VERSION
            write_manifest(index_dir, current)
    summary = {"files_seen": found, **summary, **_skip_counts(scope)}
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary
