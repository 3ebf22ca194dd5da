"""Ingest skips what it cannot read, one line each, and finishes the rest.

FIFOs are never opened (a watchdog fails the test instead of hanging it), binaries are found
by content whatever their name, links that loop or lead nowhere, unreadable files and ``.pdf``
files that are not PDFs are skipped with a reason; the summary counts them, and the command
exits 0 when anything was ingested and 2 when nothing could be.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from copilot.__main__ import main
from copilot.config import Settings
from copilot.embeddings import get_embedder
from copilot.index import Index, read_manifest
from copilot.ingest import ingest
from copilot.loaders import MAX_BYTES, Unreadable, load, read_source
from copilot.sources import Scope, _walk

ROOT = Path(__file__).resolve().parents[2]
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8


@contextlib.contextmanager
def no_hang(fifo: Path, seconds: float = 120):
    """Fail, instead of blocking forever, when the body opens ``fifo`` and waits on it: after
    ``seconds`` a writer opens the FIFO, which lets a blocked reader go on to the assertion."""
    fired = threading.Event()

    def unblock() -> None:
        fired.set()
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(seconds, unblock)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
    assert not fired.is_set(), f"blocked on the FIFO {fifo} for {seconds} s"


def bad_files(folder: Path) -> dict[str, str]:
    """One file of each kind ingest must skip, named like documents -> the reason expected."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "pipe.md")
    (folder / "program.md").write_bytes(ELF)
    (folder / "noise.txt").write_bytes(os.urandom(4096).replace(b"\x00", b"\x01"))
    (folder / "loop.md").symlink_to(folder / "loop.md")
    (folder / "gone.rst").symlink_to(folder / "nowhere.rst")
    (folder / "notes.pdf").write_text("Plain text saved as a PDF by mistake.")
    (folder / "cut.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer <<")
    return {"pipe.md": "not_regular", "program.md": "binary", "noise.txt": "binary", "loop.md": "symlink_loop",
            "gone.rst": "broken_link", "notes.pdf": "invalid_pdf", "cut.pdf": "invalid_pdf"}


def test_read_source_says_why_it_cannot_read(tmp_path):
    expected = bad_files(tmp_path)
    with no_hang(tmp_path / "pipe.md", 30):
        for name, reason in expected.items():
            path = tmp_path / name
            with pytest.raises(Unreadable) as caught:
                load(path, path.stem) if name == "cut.pdf" else read_source(path)
            assert caught.value.reason == reason, name
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes("# Crème brûlée\n\nA dessert with a caramelised top, served cold.".encode("latin-1"))
    assert load(latin1, "latin1")[0].title.startswith("Cr")  # a few stray bytes are text, not binary
    (tmp_path / "empty.md").write_bytes(b"")
    assert read_source(tmp_path / "empty.md") == b""
    with open(tmp_path / "huge.txt", "wb") as fh:  # sparse: refused by its size, never read
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(Unreadable, match=r"too large \(268,435,457 bytes; the limit is 268,435,456\)"):
        read_source(tmp_path / "huge.txt")


def test_names_that_are_not_utf8_are_skipped(tmp_path):
    (tmp_path / "ok.md").write_text("# Fine")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.md"), "wb") as fh:
        fh.write(b"# Latin-1 name")
    scope = Scope()
    assert _walk(tmp_path, scope) == [tmp_path / "ok.md"]
    assert [(s.reason, s.message) for s in scope.skipped] == [("unreadable", "unreadable (the file name is not UTF-8)")]


def _without_dac_override() -> None:
    """In a child before exec: drop the capabilities that let root read any file."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_unreadable_file_is_skipped_with_its_reason(tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\nNot for you.")
    secret.chmod(0)
    code = ("import sys; from pathlib import Path; from copilot.loaders import Unreadable, read_source\n"
            "try:\n    read_source(Path(sys.argv[1]))\nexcept Unreadable as e:\n    print(e.reason, e)\n")
    # root reads anything: the check runs in a child without the capabilities that allow it
    drop = _without_dac_override if os.geteuid() == 0 else None
    out = subprocess.run([sys.executable, "-c", code, str(secret)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, preexec_fn=drop)
    assert out.stdout.strip() == "unreadable unreadable (Permission denied)", out.stderr


@pytest.mark.slow  # about 25 s on a busy 2-core machine, most of it loading the embedder
def test_ingest_skips_bad_files_one_line_each_and_finishes_the_rest(tmp_path, capsys):
    folder = tmp_path / "mixed"
    expected = bad_files(folder)
    (folder / "good.md").write_text("# Replay ratio\n\nA larger replay ratio reuses each transition more often.")
    (folder / "sub").mkdir()
    (folder / "sub" / "fine.txt").write_text("Entropy bonuses keep the policy exploring.")
    settings = Settings(home=tmp_path / "home")
    with no_hang(folder / "pipe.md"):
        summary = ingest([str(folder)], settings, progress=False, embedder=get_embedder())
    assert summary["added"] == 2 and summary["skipped"] == len(expected) == summary["files_seen"] - 2
    assert summary["skipped_by_reason"] == {"not_regular": 1, "binary": 2, "symlink_loop": 1, "broken_link": 1,
                                            "invalid_pdf": 2}
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped ")]
    assert len(lines) == len(expected)
    for name in expected:
        assert sum(f"{folder / name}: " in line for line in lines) == 1, name
    assert {Path(k).name for k in read_manifest(settings.index_dir)["sources"]} == {"good.md", "fine.txt"}
    index = Index.open(settings, embedder=get_embedder())
    texts = index.store.get(include=["documents"])["documents"]
    assert len(texts) == 2 and not any("ELF" in t or "\ufffd" in t for t in texts)
    assert index.search("replay ratio", k=1)[0].path.endswith("good.md")

    with no_hang(folder / "pipe.md"):  # again: nothing changed, the same files are skipped and named again
        again = ingest([str(folder)], settings, progress=False, embedder=get_embedder())
    assert again["unchanged"] == 2 and again["skipped"] == len(expected) and again["embedded"] == 0


def test_exit_status_2_only_when_nothing_could_be_read(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad_files(bad)
    home = str(tmp_path / "home")
    with no_hang(bad / "pipe.md"):
        assert main(["--home", home, "ingest", str(bad)]) == 2
        captured = capsys.readouterr()
        assert "error: none of the 7 files found could be read" in captured.err
        assert "skipped by reason: binary 2, broken_link 1, invalid_pdf 2, not_regular 1, symlink_loop 1" in captured.out
        assert main(["--home", home, "ingest", str(bad / "pipe.md")]) == 2  # named on its own: skipped too
        assert "skipped " + str(bad / "pipe.md") + ": not a regular file (a FIFO)" in capsys.readouterr().err
        (bad / "ok.md").write_text("# Fine\n\nOne readable note among the broken ones.")
        assert main(["--home", home, "ingest", str(bad)]) == 0
        assert main(["--home", home, "ingest", str(bad)]) == 0  # all unchanged is fine too
    assert "unchanged: 1" in capsys.readouterr().out
