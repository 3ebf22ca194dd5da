"""Crash safety: a real ingest process killed (SIGKILL) at any point leaves a usable index.

A rebuild killed anywhere leaves the old index or the new one, never a mix; an incremental
ingest killed mid-way is resumed by the next one; ``ingest --check`` finds and repairs a store
that disagrees with the manifest (the failure this guards against: after ``kill -9`` during
``--rebuild`` the next ingest said "unchanged" while the store held a fraction of the chunks).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from copilot.__main__ import main
from copilot.config import Settings
from copilot.embeddings import get_embedder
from copilot.generations import IndexBusy, generation_dirs, ingest_lock, lexical_files
from copilot.index import Index, read_manifest
from copilot.ingest import ingest
from copilot.ingest_check import check

ROOT = Path(__file__).resolve().parents[2]
NOTES = 20  # two chunks each: 40 chunks, 5 batches of 8
EDITION = re.compile(r"\b(first|second) edition\b")


def write_notes(folder: Path, edition: str, which: range = range(NOTES)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in which:
        (folder / f"n{i:02d}.md").write_text(
            f"# Note {i}\n\nThe zorblax{i} widget is described here, {edition} edition.\n\n"
            f"## More on {i}\n\nTuning zorblax{i} takes patience ({edition} edition).\n")


def editions(settings: Settings) -> dict[str, str]:
    """Each note's edition as the index holds it, after checking that everything agrees.

    The manifest, the Chroma store and the BM25 table name the same chunks, ``--check`` finds
    nothing to repair, every note has all its chunks in one edition, and search finds it.
    """
    result = check(settings, embedder=get_embedder(), progress=False)
    assert result["before"]["consistent"], result["before"]
    index = Index.open(settings, embedder=get_embedder())
    manifest = read_manifest(settings.index_dir)
    named = {cid for entry in manifest["sources"].values() for cid in entry["chunks"]}
    assert set(index._table["id"]) == index.ids() == named and len(named) == 2 * NOTES
    stored = index.store.get(include=["documents", "metadatas"])
    seen: dict[str, set[str]] = {}
    for text, meta in zip(stored["documents"], stored["metadatas"]):
        seen.setdefault(Path(meta["path"]).name, set()).add(EDITION.search(text).group(1))
    assert all(len(found) == 1 for found in seen.values()), seen
    for i in (0, 7, NOTES - 1):
        assert index.search(f"zorblax{i}", k=1)[0].path.endswith(f"n{i:02d}.md")
    return {name: found.pop() for name, found in sorted(seen.items())}


def spawn(home: Path, folder: Path, *flags: str, stop: str | None = None) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COPILOT_EMBED_BATCH": "8"}
    env.pop("COPILOT_INGEST_STOP_AT", None)
    if stop:
        env["COPILOT_INGEST_STOP_AT"] = stop
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "--home", str(home), "ingest", str(folder), *flags],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err: list[str] = []
    read = lambda: os.read(proc.stderr.fileno(), 4096).decode(errors="replace")  # noqa: E731
    threading.Thread(target=lambda: err.extend(iter(read, "")), daemon=True).start()
    return proc, err


def kill_when(proc: subprocess.Popen, err: list[str], marker: str, delay: float = 0.0, limit: float = 300) -> None:
    """SIGKILL ``proc`` once ``marker`` shows on its stderr (plus ``delay`` seconds)."""
    end = time.monotonic() + limit
    while marker not in "".join(err):
        assert proc.poll() is None, "".join(err)[-2000:]
        assert time.monotonic() < end, f"no {marker!r} within {limit} s: {''.join(err)[-2000:]}"
        time.sleep(0.05)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)


@pytest.fixture
def built(tmp_path):
    folder, settings = tmp_path / "notes", Settings(home=tmp_path / "home")
    write_notes(folder, "first")
    summary = ingest([str(folder)], settings, progress=False, embedder=get_embedder())
    assert summary["added"] == NOTES and summary["chunks"] == 2 * NOTES
    return folder, settings


@pytest.mark.slow
def test_rebuild_killed_anywhere_leaves_the_old_or_the_new_index(built):
    folder, settings = built
    current, started = "first", time.perf_counter()
    # point where the rebuild is killed -> does the new index survive it?
    for point, switched in (("batch-2", False), ("lexical", False), ("switch", False), ("gc", True), (None, None)):
        other = "second" if current == "first" else "first"
        write_notes(folder, other)
        proc, err = spawn(settings.home, folder, "--rebuild", stop=point)
        if point:
            kill_when(proc, err, f"ingest stopped at {point}")
        else:  # an arbitrary moment while chunks are embedded and stored
            kill_when(proc, err, "embedding:", delay=random.uniform(0.0, 3.0))
        assert proc.returncode in (-signal.SIGKILL, 0)
        held = set(editions(settings).values())
        assert held in ({current}, {other}), (point, held)
        if switched is not None:
            assert held == ({other} if switched else {current}), point
        assert generation_dirs(settings.index_dir) == [read_manifest(settings.index_dir)["generation"]]
        current = held.pop()
    print(f"five killed rebuilds checked in {time.perf_counter() - started:.1f} s")


@pytest.mark.slow
def test_incremental_ingest_killed_midway_is_resumed(built):
    folder, settings = built
    write_notes(folder, "second", range(0, NOTES, 2))  # 10 notes change: 20 chunks, 3 batches of 8
    proc, err = spawn(settings.home, folder, stop="batch-2")
    kill_when(proc, err, "ingest stopped at batch-2")
    assert read_manifest(settings.index_dir)["state"] == "writing"
    write_notes(folder, "second", range(1, 4, 2))  # and two more before the next run
    proc, err = spawn(settings.home, folder, stop="lexical")
    kill_when(proc, err, "ingest stopped at lexical")
    assert " 0/8 [" in "".join(err)  # of 24 changed chunks, the 16 stored before the first kill were kept

    summary = ingest([str(folder)], settings, progress=False, embedder=get_embedder())
    assert summary["embedded"] == 0  # every changed chunk was stored before the kills: kept
    assert summary["deleted_chunks"] == 0 and summary["unchanged"] == NOTES
    want = {f"n{i:02d}.md": "second" if i % 2 == 0 or i in (1, 3) else "first" for i in range(NOTES)}
    assert editions(settings) == want


def test_check_reports_and_repairs_a_store_that_disagrees(built, capsys):
    folder, settings = built
    index = Index.open(settings, embedder=get_embedder())
    manifest = read_manifest(settings.index_dir)
    lost = manifest["sources"][str(folder / "n03.md")]["chunks"]
    index.delete(lost)
    orphan = index.store.get(ids=manifest["sources"][str(folder / "n04.md")]["chunks"][:1],
                             include=["documents", "metadatas", "embeddings"])
    index.store._collection.add(ids=["orphan-chunk"], documents=orphan["documents"],
                                metadatas=orphan["metadatas"], embeddings=orphan["embeddings"])

    assert main(["--home", str(settings.home), "ingest", "--check"]) == 0
    out = capsys.readouterr().out
    assert "manifest 40 chunks, store 39" in out and "missing from the store: 2 chunks of 1 sources" in out
    assert "stored but named by no source: 1 chunks" in out and "BM25 table does not match" in out
    assert "repaired: 1 sources read again (2 chunks embedded), 1 chunks deleted" in out
    assert out.strip().endswith("index consistent")
    assert editions(settings) == {f"n{i:02d}.md": "first" for i in range(NOTES)}
    assert main(["--home", str(settings.home), "ingest", "--check"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "index consistent"


def test_ingest_after_an_interrupted_run_does_not_claim_unchanged(built):
    """The reported failure: the manifest claims chunks the store lost; ingest must not say "unchanged"."""
    folder, settings = built
    manifest = read_manifest(settings.index_dir)
    index = Index.open(settings, embedder=get_embedder())
    index.delete(sorted(index.ids())[:30])
    manifest.pop("state")  # as a manifest written before the state was recorded
    (settings.index_dir / "manifest.json").write_text(json.dumps(manifest))
    summary = ingest([str(folder)], settings, progress=False, embedder=get_embedder())
    assert summary["embedded"] == 30 and summary["updated"] >= 15 and summary["chunks"] == 2 * NOTES
    assert editions(settings) == {f"n{i:02d}.md": "first" for i in range(NOTES)}


def test_one_writer_at_a_time_and_readers_follow_a_switch(built):
    folder, settings = built
    reader = Index.open(settings, embedder=get_embedder())
    with ingest_lock(settings.index_dir):
        with pytest.raises(IndexBusy, match=r"Another ingest is writing the index in .*; wait for it"):
            ingest([str(folder)], settings, progress=False, embedder=get_embedder())
    old_files = lexical_files(settings.index_dir)
    write_notes(folder, "second", range(5))
    ingest([str(folder)], settings, rebuild=True, progress=False, embedder=get_embedder())
    assert not old_files[0].parent.exists() and lexical_files(settings.index_dir) != old_files
    hit = reader.search("zorblax2", k=1)[0]  # the open reader moves to the new generation
    assert hit.path.endswith("n02.md") and "second edition" in hit.text
