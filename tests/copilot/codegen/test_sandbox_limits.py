"""Limits of the real sandbox: processes, escaped children, memory, disk, network, output.

Scripts run with ``validate=False`` so that native code reaches the OS layers directly.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from copilot.codegen import sandbox_bwrap
from copilot.codegen.sandbox import SandboxUnavailable, run_script
from copilot.codegen.sandbox_log import TAIL_BYTES

DONE = "import json\njson.dump({'done': True}, open('run.json', 'w'))\n"


def _run(tmp_path: Path, source: str, **kw):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "train.py").write_text(source)
    kw.setdefault("budget_s", 60)
    return run_script(run / "train.py", validate=False, **kw)


def _host_processes_with(token: str) -> list[str]:
    """Live processes on the host (not dead or zombie) whose name or command line carries ``token``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if (token in comm or token in cmdline) and state not in ("X", "Z"):
            found.append(f"{pid} {comm} {cmdline[:80]}")
    return found


def _survivors(token: str, grace_s: float = 3.0) -> list[str]:
    """Processes carrying ``token`` still alive after ``grace_s`` (tasks the kernel is still
    releasing show up in /proc for a few milliseconds; a real survivor stays)."""
    deadline = time.monotonic() + grace_s
    while (found := _host_processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_native_fork_bomb_hits_the_process_limit_and_the_run_ends(tmp_path):
    token = uuid.uuid4().hex[:12]
    source = f'''
import ctypes, json, os, time
libc = ctypes.CDLL(None)
libc.prctl(15, b"{token}", 0, 0, 0)
main, made = os.getpid(), 0
while libc.fork() != -1:  # parent and every child keep forking until the kernel refuses
    made += 1
if os.getpid() == main:
    seen = sum(p.isdigit() for p in os.listdir("/proc"))
    json.dump({{"made": made, "seen": seen}}, open("run.json", "w"))
else:
    libc.pause()
'''
    t0 = time.monotonic()
    result = _run(tmp_path, source, tasks=48, budget_s=60)
    assert result.ok, (result.error, result.log_tail)
    assert 20 <= result.manifest["seen"] <= 48 + 2
    assert time.monotonic() - t0 < 40
    assert _survivors(token) == []


def test_setsid_children_die_with_the_run(tmp_path):
    token = uuid.uuid4().hex[:12]
    source = f'''
import ctypes, subprocess, sys
libc = ctypes.CDLL(None)
for _ in range(60):
    if libc.fork() == 0:
        libc.setsid()
        libc.prctl(15, b"{token}", 0, 0, 0)
        if libc.fork() == 0:  # double fork: the grandchild is re-parented
            libc.pause()
        libc._exit(0)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{token}"], start_new_session=True)
import json, os, time
time.sleep(0.5)
alive = [p for p in os.listdir("/proc") if p.isdigit() and
         "{token}" in open(f"/proc/{{p}}/comm").read() + open(f"/proc/{{p}}/cmdline").read()]
json.dump({{"alive": len(alive)}}, open("run.json", "w"))
'''
    result = _run(tmp_path, source)
    assert result.ok, (result.error, result.log_tail)
    assert result.manifest["alive"] >= 61  # they were running when the script finished
    assert _survivors(token) == []


def test_memory_of_the_whole_process_tree_is_limited(tmp_path):
    source = '''
import subprocess, sys, time
hog = "b = bytearray(150 * 2**20)\\nimport time\\ntime.sleep(60)"
children = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(4)]
time.sleep(60)
'''
    t0 = time.monotonic()
    result = _run(tmp_path, source, memory_mb=400)
    assert result.error == "The script ran out of its memory limit of 400 MB and was stopped."
    assert time.monotonic() - t0 < 40


def test_run_folder_size_is_limited(tmp_path):
    source = '''
import time
for i in range(40):
    with open(f"blob{i}", "wb") as fh:
        fh.write(b"x" * 2**20)
    time.sleep(0.05)
time.sleep(30)
'''
    result = _run(tmp_path, source, disk_mb=20)
    assert result.error == "The script wrote more than its disk limit of 20 MB into its run folder and was stopped."


def test_private_tmp_is_size_limited(tmp_path):
    source = "open('/tmp/big', 'wb').write(b'x' * 30 * 2**20)\n" + DONE
    result = _run(tmp_path, source, disk_mb=20)
    assert not result.ok and "No space left on device" in result.error


def test_file_size_is_limited(tmp_path):
    source = "open('big', 'wb').write(b'x' * 8 * 2**20)\n" + DONE
    result = _run(tmp_path, source, file_mb=4)
    assert not result.ok and "larger than the 4 MB limit" in result.error, (result.error, result.returncode)


def test_host_loopback_is_unreachable(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    source = f'''
import json, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5)
    outcome = "connected"
except OSError as exc:
    outcome = type(exc).__name__
json.dump({{"outcome": outcome}}, open("run.json", "w"))
'''
    try:
        result = _run(tmp_path, source)
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert result.ok and result.manifest["outcome"] == "ConnectionRefusedError"


def test_a_100_mb_line_is_read_quickly_and_the_tail_stays_small(tmp_path):
    source = "import sys\nsys.stdout.write('x' * 100_000_000)\nsys.stdout.flush()\nprint()\nprint('after')\n" + DONE
    lines: list[str] = []
    t0 = time.monotonic()
    result = _run(tmp_path, source, on_output=lines.append)
    assert result.ok, result.error
    assert time.monotonic() - t0 < 30
    assert len(result.log_tail.encode()) <= TAIL_BYTES
    assert "line cut: 100,000,000 bytes" in result.log_tail and lines[-1] == "after"
    assert max(len(line) for line in lines) < 5000


def test_links_out_of_the_run_folder_are_removed_before_outputs_are_read(tmp_path):
    source = ("import ctypes, os\nlibc = ctypes.CDLL(None)\nlibc.symlink(b'/etc/shadow', b'curve.png')\n"
              "libc.symlink(b'/etc/passwd', b'run.json')\nos.mkfifo('episodes.csv')\n"
              "os.symlink('train.py', 'inside_link')\n")
    result = _run(tmp_path, source)
    run = result.run_dir
    assert not result.ok and result.manifest is None and result.curve_png is None
    assert not any((run / n).exists() or (run / n).is_symlink() for n in ("curve.png", "run.json", "episodes.csv"))
    assert (run / "inside_link").is_symlink() and "removed 3" in result.log_tail


def test_without_bwrap_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_bwrap, "_WORKED", [])
    monkeypatch.setattr(sandbox_bwrap.shutil, "which", lambda name: None)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.py").write_text("open('ran', 'w').write('x')\n")
    with pytest.raises(SandboxUnavailable, match="'bwrap' is not installed"):
        run_script(run / "train.py", budget_s=30)
    assert not (run / "ran").exists()


def test_extra_read_only_folders_are_readable_not_writable(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "doc.md").write_text("corpus text")
    source = f'''
import json, os
text = open({str(corpus / "doc.md")!r}).read()
try:
    os.open({str(corpus / "new.md")!r}, os.O_CREAT | os.O_WRONLY)
    wrote = True
except OSError:
    wrote = False
json.dump({{"text": text, "wrote": wrote}}, open("run.json", "w"))
'''
    result = _run(tmp_path, source, read_only=(corpus,))
    assert result.ok, (result.error, result.log_tail)
    assert result.manifest == {"text": "corpus text", "wrote": False}
    assert not (corpus / "new.md").exists()


def test_isolation_is_json_ready(tmp_path):
    result = _run(tmp_path, DONE)
    assert json.loads(json.dumps(result.to_json()))["isolation"] == result.isolation


def test_many_empty_files_count_against_the_disk_limit(tmp_path):
    source = "import time\nfor i in range(20000):\n    open(f'f{i}', 'w').close()\ntime.sleep(30)\n"
    result = _run(tmp_path, source, disk_mb=40)
    assert result.error == "The script wrote more than its disk limit of 40 MB into its run folder and was stopped."


def test_one_fast_allocation_is_stopped(tmp_path):
    source = "b = bytearray(1024 * 2**20)\nimport time\ntime.sleep(30)\n"
    t0 = time.monotonic()
    result = _run(tmp_path, source, memory_mb=300)
    assert result.error == "The script ran out of its memory limit of 300 MB and was stopped."
    assert time.monotonic() - t0 < 20
    if any(item.startswith("memory cgroup v") for item in result.isolation):
        assert result.returncode is not None and result.returncode != 0
