"""``ingest --check``: compare the manifest with the store and the BM25 table, and repair.

The manifest names every source's chunk ids; the live Chroma collection holds the chunks; the
BM25 table must hold exactly the stored chunks. A mismatch (ids the manifest names that are not
stored, stored ids no source names, a BM25 table out of step, a manifest left ``writing``) is
reported and repaired: sources with missing chunks are read and embedded again, orphans
deleted, BM25 rebuilt. Generations left by a killed run are no part of the index (the manifest
does not name them): they are reported and dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from copilot.bm25 import BM25
from copilot.config import Settings
from copilot.embeddings import Embedder, get_embedder
from copilot.generations import (drop_generations, ingest_lock, leftover_generations, lexical_files,
                                 live_generation, read_manifest)
from copilot.index import Index
from copilot.ingest import apply_in_place, check_embedder, load_sources, print_skip, repair_sources
from copilot.sources import IngestError, Scope, Skip

EXAMPLES = 5  # ids and sources named in a report


def _lexical_ids(index_dir: Path, generation: int) -> list[str] | None:
    """The ids in the BM25 table, or None when its files are missing, damaged or disagree."""
    bm25_path, table_path = lexical_files(index_dir, generation)
    try:
        ids = json.loads(table_path.read_text(encoding="utf-8"))["id"]
        return ids if BM25.load(bm25_path).n_docs == len(ids) else None
    except Exception:  # noqa: BLE001 - any damage means "rebuild it"
        return None


def inspect(index: Index, manifest: dict[str, Any]) -> dict[str, Any]:
    """How the manifest, the store and the BM25 table agree; ``consistent`` when in every way."""
    known = manifest["sources"]
    stored = index.ids()
    named = {cid for entry in known.values() for cid in entry["chunks"]}
    missing, orphans = sorted(named - stored), sorted(stored - named)
    broken = sorted(key for key, entry in known.items() if not set(entry["chunks"]) <= stored)
    lexical = _lexical_ids(index.index_dir, index.generation)
    leftovers = leftover_generations(index.index_dir, index.generation)
    counted = manifest.get("counts", {}).get("chunks")
    entry_chunks = sum(len(e["chunks"]) for e in known.values())
    report = {"generation": index.generation, "state": manifest.get("state", "unknown"),
              "manifest_chunks": len(named), "manifest_counts_chunks": counted, "manifest_entry_chunks": entry_chunks,
              "store_chunks": len(stored),
              "lexical_chunks": None if lexical is None else len(lexical),
              "missing_ids": len(missing), "orphan_ids": len(orphans), "broken_sources": len(broken),
              "missing_examples": missing[:EXAMPLES], "orphan_examples": orphans[:EXAMPLES],
              "broken_examples": [known[k]["path"] for k in broken[:EXAMPLES]],
              "lexical_in_step": lexical is not None and set(lexical) == stored,
              "leftover_generations": leftovers}
    report["consistent"] = (not missing and not orphans and report["lexical_in_step"]
                            and report["state"] == "ready" and counted == entry_chunks)
    return report


def check(settings: Settings, *, embedder: Embedder | None = None, progress: bool = True,
          on_skip: Callable[[Skip], None] = print_skip, repair: bool = True) -> dict[str, Any]:
    """Report how the index agrees with its manifest and, with ``repair``, make it agree.

    Returns ``{"before": report, "after": report or None, "repaired": {...} or None, "consistent"}``.
    """
    index_dir = Path(settings.index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IngestError(f"No index found in {str(index_dir)!r} to check; run `python -m copilot ingest` first.")
    embedder = embedder or get_embedder(settings.embedder)
    check_embedder(manifest, embedder)
    with ingest_lock(index_dir):
        manifest = read_manifest(index_dir) or manifest
        index = Index.open_generation(index_dir, embedder, live_generation(manifest))
        before = inspect(index, manifest)
        if repair and before["leftover_generations"]:  # garbage of a killed run: not part of the index
            drop_generations(index_dir, keep=index.generation)
        if before["consistent"] or not repair:
            dropped = {"generations_dropped": before["leftover_generations"]} if repair else None
            return {"before": before, "after": None, "repaired": dropped, "consistent": before["consistent"]}
        broken = [k for k, e in manifest["sources"].items() if not set(e["chunks"]) <= index.ids()]
        sources, gone = repair_sources(broken, manifest, on_skip)
        items = load_sources(sources, Scope(), progress, on_skip)
        gone += [s.key for s in sources if s.key not in {done.key for done, _ in items}]
        embedded, deleted = apply_in_place(index, embedder, manifest, items, gone, progress)
        after = inspect(index, manifest)
    repaired = {"sources_embedded": len(items), "chunks_embedded": embedded, "chunks_deleted": deleted,
                "sources_dropped": len(gone), "generations_dropped": before["leftover_generations"]}
    return {"before": before, "after": after, "repaired": repaired, "consistent": after["consistent"]}


def describe(result: dict[str, Any]) -> list[str]:
    """Lines for people: what disagreed, what was done, how it stands."""
    b = result["before"]
    lines = [f"index check (generation {b['generation']}, state {b['state']}): manifest {b['manifest_chunks']} "
             f"chunks, store {b['store_chunks']}, BM25 table {b['lexical_chunks']}"]
    if b["missing_ids"]:
        lines.append(f"missing from the store: {b['missing_ids']} chunks of {b['broken_sources']} sources "
                     f"(e.g. {', '.join(b['broken_examples'])})")
    if b["orphan_ids"]:
        lines.append(f"stored but named by no source: {b['orphan_ids']} chunks "
                     f"(e.g. {', '.join(i[:12] for i in b['orphan_examples'])})")
    if not b["lexical_in_step"]:
        lines.append("the BM25 table does not match the store")
    if b["manifest_counts_chunks"] != b["manifest_entry_chunks"]:
        lines.append(f"the manifest's counts say {b['manifest_counts_chunks']} chunks but its sources name "
                     f"{b['manifest_entry_chunks']}")
    r = result["repaired"]
    if r and r.get("generations_dropped"):
        lines.append(f"dropped generations left by an interrupted run: {r['generations_dropped']}")
    if r and "sources_embedded" in r:
        lines.append(f"repaired: {r['sources_embedded']} sources read again ({r['chunks_embedded']} chunks embedded), "
                     f"{r['chunks_deleted']} chunks deleted, {r['sources_dropped']} sources dropped, BM25 rebuilt")
    lines.append("index consistent" if result["consistent"] else "index still inconsistent")
    return lines
