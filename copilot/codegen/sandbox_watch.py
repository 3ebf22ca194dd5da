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
from typing import Any, Iterator

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


class _Dir:
    """An open directory whose subfolders are still to be visited (closed after the last one)."""

    __slots__ = ("fd", "pending")

    def __init__(self, fd: int, pending: int):
        self.fd, self.pending = fd, pending

    def release(self) -> bool:
        """One subfolder visited; True when that was the last one (the folder is then closed)."""
        self.pending -= 1
        if self.pending > 0:
            return False
        os.close(self.fd)
        return True


def entries(root: Path) -> Iterator[tuple[int, str, os.stat_result]]:
    """(folder descriptor, name, lstat) of everything under ``root``, links not followed.

    Every step is relative to an open folder descriptor and the walk keeps its own stack, so
    neither paths longer than PATH_MAX nor trees deeper than Python's recursion limit stop
    it. The descriptor stays open while its folder's entries are yielded.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    stack: list[tuple[_Dir | None, str]] = [(None, os.fspath(root))]
    open_fds: set[int] = set()
    try:
        while stack:
            parent, name = stack.pop()
            try:
                fd = os.open(name, flags, dir_fd=parent.fd if parent else None)
                open_fds.add(fd)
            except OSError:
                fd = -1
            if parent is not None and parent.release():
                open_fds.discard(parent.fd)
            if fd < 0:
                continue
            subdirs = yield from _list(fd)
            if subdirs:
                folder = _Dir(fd, len(subdirs))
                stack.extend((folder, child) for child in subdirs)
            else:
                os.close(fd)
                open_fds.discard(fd)
    finally:  # the caller stopped early: close what is still open
        for fd in open_fds:
            os.close(fd)


def _list(fd: int) -> Iterator[tuple[int, str, os.stat_result]]:
    """Yield the entries of the open folder ``fd``; returns the names of its subfolders."""
    subdirs: list[str] = []
    try:
        names = os.listdir(fd)
    except OSError:
        return subdirs
    for child in names:
        try:
            st = os.stat(child, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue
        yield fd, child, st
        if stat.S_ISDIR(st.st_mode):
            subdirs.append(child)
    return subdirs


def _cost(st: os.stat_result) -> int:
    """What an entry is charged: its blocks, its apparent size (a sparse file is read whole by
    whoever copies or zips it) and at least ENTRY_BYTES."""
    return max(st.st_blocks * 512, st.st_size if stat.S_ISREG(st.st_mode) else 0, ENTRY_BYTES)


def folder_bytes(folder: Path, stop_at: int | None = None) -> int:
    """What the entries under ``folder`` are charged in total (see :func:`_cost`); stops counting
    past ``stop_at``."""
    total = 0
    walk = entries(folder)
    for _, _, st in walk:
        total += _cost(st)
        if stop_at is not None and total > stop_at:
            walk.close()
            break
    return total


def open_deleted_bytes(pids: list[int], device: int) -> int:
    """What files on ``device`` that were deleted but are still held by ``pids`` (through an open
    descriptor or a memory mapping) are charged, each file once."""
    seen: set[int] = set()
    total = 0
    for pid in pids:
        for table in ("fd", "map_files"):
            folder = f"/proc/{pid}/{table}"
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                try:
                    if not os.readlink(f"{folder}/{name}").endswith(" (deleted)"):
                        continue
                    st = os.stat(f"{folder}/{name}")
                except OSError:
                    continue
                if st.st_dev == device and stat.S_ISREG(st.st_mode) and st.st_ino not in seen:
                    seen.add(st.st_ino)
                    total += _cost(st)
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
        elif self.checks % DISK_EVERY == 1 and self.disk_used() > self.disk_bytes:
            self.breach = "disk"
        return self.breach

    def disk_used(self) -> int:
        """The run folder's charge plus deleted files the run still holds open on its device."""
        used = folder_bytes(self.run_dir, self.disk_bytes)
        if used <= self.disk_bytes:
            try:
                used += open_deleted_bytes(descendants(self.root_pid), os.stat(self.run_dir).st_dev)
            except OSError:
                pass
        return used


def _leads_outside(fd: int, name: str) -> bool:
    """Whether the link ``name`` may lead out of the run folder: an absolute target or ``..``."""
    try:
        target = os.readlink(name, dir_fd=fd)
    except OSError:
        return True
    return target.startswith("/") or ".." in target.replace("\\", "/").split("/")


def sanitize(run_dir: Path) -> list[str]:
    """Remove what the product must never follow or block on when it reads the run's outputs:
    links that may lead out of the run folder (absolute targets or ``..``) and FIFOs, sockets
    or device nodes. Returns their names."""
    removed: list[str] = []
    for fd, name, st in entries(run_dir):
        if stat.S_ISLNK(st.st_mode):
            bad = _leads_outside(fd, name)
        else:
            bad = not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))
        if bad:
            try:
                os.unlink(name, dir_fd=fd)
                removed.append(name)
            except OSError:
                pass
    return removed


def hand_over(run_dir: Path, uid: int) -> None:
    """Give the run folder and everything in it to ``uid`` (links themselves, not their targets)."""
    os.chown(run_dir, uid, uid, follow_symlinks=False)
    for fd, name, _ in entries(run_dir):
        try:
            os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
        except OSError:
            pass
