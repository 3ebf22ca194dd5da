"""Parent-side limits on a sandboxed run: memory of its process tree and size of its run folder.

The memory limit is the sum of the resident set sizes of every process descending from the
sandbox (``/proc`` scanned each tick; setsid'd or double-forked children stay in the tree,
re-parented to the PID namespace's init). ``RLIMIT_AS`` is not used: it counts reserved
address space, which Ray and PyTorch reserve generously without touching. The disk limit
is the total size of the files in the run folder (``/tmp`` and ``/dev/shm`` are size-limited
tmpfs inside the sandbox, so the kernel bounds those).
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
ENTRY_BYTES = 4096  # what each file or folder costs at least (an inode and a block)
DISK_EVERY = 5  # the run folder is measured every DISK_EVERY-th check


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    table: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            table[int(name)] = int(fields[1])
    return table


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root``'s process tree, in bytes."""
    total = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


def kill_tree(root: int) -> None:
    """SIGKILL ``root`` and everything below it (the PID namespace takes the rest with it)."""
    for pid in descendants(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def folder_bytes(folder: Path, stop_at: int | None = None) -> int:
    """Bytes allocated to the entries under ``folder`` (links not followed), each charged at least
    ENTRY_BYTES so that millions of empty files count too; stops counting past ``stop_at``."""
    total, todo = 0, [os.fspath(folder)]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(st.st_blocks * 512, ENTRY_BYTES)
            if entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
        if stop_at is not None and total > stop_at:
            break
    return total


class Watch:
    """Checks the limits once per tick; ``breach`` says which one was passed (None while within).

    ``cgroup`` (a :class:`copilot.codegen.sandbox_cgroup.MemoryCgroup`, when the run has one)
    reports kernel OOM kills, which end the whole run as a memory breach.
    """

    def __init__(self, root_pid: int, run_dir: Path, memory_mb: int, disk_mb: int, cgroup: Any = None):
        self.root_pid, self.run_dir, self.cgroup = root_pid, run_dir, cgroup
        self.memory_bytes, self.disk_bytes = memory_mb * 2**20, disk_mb * 2**20
        self.breach: str | None = None
        self.peak_rss = 0
        self.checks = 0

    def check(self) -> str | None:
        rss = tree_rss_bytes(self.root_pid)
        self.peak_rss = max(self.peak_rss, rss)
        self.checks += 1
        if rss > self.memory_bytes or (self.cgroup is not None and self.cgroup.oom_killed()):
            self.breach = "memory"  # over the limit, or the kernel killed a process of the run for it
        elif self.checks % DISK_EVERY == 1 and folder_bytes(self.run_dir, self.disk_bytes) > self.disk_bytes:
            self.breach = "disk"
        return self.breach


def sanitize(run_dir: Path) -> list[str]:
    """Remove what the product must never follow or block on when it reads the run's outputs:
    links leading outside the run folder and FIFOs, sockets or device nodes. Returns their names."""
    root = os.path.realpath(run_dir)
    removed: list[str] = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.path.realpath(path)
                bad = not (target == root or target.startswith(root + os.sep))
            else:
                bad = not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))
            if bad:
                try:
                    os.unlink(path)
                    removed.append(os.path.relpath(path, root))
                except OSError:
                    pass
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return removed
