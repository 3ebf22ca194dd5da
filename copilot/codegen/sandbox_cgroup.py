"""A memory cgroup for one sandboxed run, where the machine lets the product make one.

The kernel then enforces the memory limit itself (it kills a process of the run when the
run's memory, tmpfs pages included, passes it), with no window between two checks of the
parent's watchdog, which stays as the second layer and as the only one where no cgroup
can be made. Both layouts are handled:

* cgroup v1: a child of this process's ``memory`` cgroup, ``memory.limit_in_bytes`` (and
  ``memory.memsw.limit_in_bytes`` so swap does not extend it);
* cgroup v2: a child of this process's cgroup when the ``memory`` controller is enabled for
  its children (``cgroup.subtree_control``), ``memory.max`` and ``memory.swap.max = 0``.

The bwrap process joins the cgroup before it starts anything (a ``/bin/sh`` line writes its
own pid into ``cgroup.procs`` and then execs bwrap), so every process of the run is in it.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> tuple[str | None, str | None]:
    """(v1 memory cgroup path, v2 cgroup path) of this process."""
    v1 = v2 = None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v1, v2


class MemoryCgroup:
    """A fresh cgroup limiting one run's memory; remove it after the run."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version

    @classmethod
    def create(cls, limit_bytes: int) -> "MemoryCgroup | None":
        """The cgroup, or None where this machine does not let the product make one."""
        v1, v2 = _own_paths()
        candidates = []
        if v1 is not None:
            candidates.append((ROOT / "memory" / v1.lstrip("/"), 1))
        if v2 is not None:
            candidates.append((ROOT / v2.lstrip("/"), 2))
        for parent, version in candidates:
            group = cls._make(parent, version, limit_bytes)
            if group is not None:
                return group
        return None

    @classmethod
    def _make(cls, parent: Path, version: int, limit: int) -> "MemoryCgroup | None":
        if version == 1 and not (parent / "memory.limit_in_bytes").exists():
            return None
        if version == 2:
            try:
                if "memory" not in (parent / "cgroup.subtree_control").read_text().split():
                    return None
            except OSError:
                return None
        path = parent / f"rl-copilot-run-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path, version)
        try:
            if version == 1:
                (path / "memory.limit_in_bytes").write_text(str(limit))
                if (path / "memory.memsw.limit_in_bytes").exists():
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limit))
            else:
                (path / "memory.max").write_text(str(limit))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")
        except OSError:
            group.remove()
            return None
        return group

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside this cgroup (the shell joins it, then execs ``argv``)."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *argv]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run for passing the limit."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        """Delete the cgroup (retrying while the kernel finishes releasing the run's tasks)."""
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)
