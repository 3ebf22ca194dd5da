"""The bubblewrap (``bwrap``) command line a sandboxed run starts with.

The mount view is built from scratch: an empty root, read-only binds of the interpreter
(``sys.base_prefix``), the virtual environment (``sys.prefix``), the project's ``rlcore``
package, the sandbox bootstrap (at ``/opt/sandbox/boot.py``) and any extra read-only folder the caller names (the
corpus, say), plus ``/usr`` and the ``/bin``, ``/lib*`` links; from ``/etc`` only
``ld.so.cache`` and generated ``passwd``/``group``/``hosts``/``nsswitch.conf`` files. The run folder is the
only writable bind; ``/tmp`` and ``/dev/shm`` are private, size-limited tmpfs; ``/proc``
belongs to the new PID namespace and ``/dev`` holds only the harmless nodes. The PID,
network, IPC, UTS and cgroup namespaces are new, and the script runs under an
unprivileged uid/gid with no capabilities and ``no_new_privs`` set.

How the uid is reached depends on who runs the product (measured: the kernel exempts a
process whose real uid is root from ``RLIMIT_NPROC``, also inside a user namespace that
maps uid 65534 to root, so ``--unshare-user --uid 65534`` alone leaves the process limit
unenforced when the product runs as root):

* as root, bwrap keeps the init user namespace and only ``CAP_SETUID``/``CAP_SETGID``;
  the bootstrap switches to a uid/gid of its own for this run (drawn from a high range
  no account uses; no supplementary groups) before anything else runs, which clears those
  capabilities too. Runs never share a process quota or own each other's files;
* as any other user, bwrap adds a new user namespace mapping uid 65534 inside to the
  user outside (``--unshare-user --uid 65534``), where the limit applies already.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from copilot.codegen.errors import Impossible
from copilot.codegen.sandbox_seccomp import filter_fd

SANDBOX_UID = 65534
RUN_UIDS = (1_500_000_000, 1 << 24)  # as root: each run gets its own uid from this range
HOSTNAME = "sandbox"
SYSTEM_DIRS = ("/usr",)
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache",)
BOOT_PATH = "/opt/sandbox/boot.py"  # where the bootstrap appears inside (outside copilot's package)
_WORKED: list[str] = []  # holds one entry once bwrap has worked here


class SandboxUnavailable(Impossible):
    """bubblewrap is missing or cannot create its namespaces here: nothing is run (no repair can help)."""

    def __init__(self, message: str):
        super().__init__(message, subject="sandbox")


def drop_to_nobody() -> bool:
    """Whether the bootstrap switches to an unprivileged uid itself (the product runs as root)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run_uid() -> int:
    """The uid a new run's script gets: a fresh one per run as root (so runs neither share a
    process quota nor can touch each other's files), 65534 in a user namespace otherwise."""
    if drop_to_nobody():
        return RUN_UIDS[0] + secrets.randbelow(RUN_UIDS[1])
    return SANDBOX_UID


def identity_args() -> list[str]:
    """The bwrap options giving the sandbox its uid (see the module docstring)."""
    if drop_to_nobody():
        return ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]


NAMESPACES = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup"]


@dataclass
class Launch:
    """A ready bwrap command: its argv, the descriptors it inherits, and what it isolates."""

    argv: list[str]
    fds: list[int] = field(default_factory=list)
    isolation: list[str] = field(default_factory=list)

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def _probe() -> str | None:
    exe = shutil.which("bwrap")
    if not sys.platform.startswith("linux"):
        return f"Scripts run only inside a bubblewrap sandbox, which needs Linux; this is {sys.platform}."
    if exe is None:
        return ("Scripts run only inside a bubblewrap sandbox and 'bwrap' is not installed; install Debian's "
                "'bubblewrap' package (make setup does so when run as root).")
    argv = [exe, *NAMESPACES, *identity_args(), "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
            "--tmpfs", "/tmp", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Scripts run only inside a bubblewrap sandbox and bwrap could not start here ({exc})."
    if done.returncode != 0:
        why = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1][:200]
        return f"Scripts run only inside a bubblewrap sandbox and bwrap cannot create its namespaces here ({why})."
    return None


def sandbox_problem() -> str | None:
    """None when bwrap works here, else the one sentence that refuses a run (a success is
    remembered; a failure is checked again next time, so installing bwrap needs no restart)."""
    if _WORKED:
        return None
    problem = _probe()
    if problem is None:
        _WORKED.append("works")
    return problem


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.fspath(path))


def read_only_paths(project_root: Path, extra: tuple[Path, ...] = ()) -> list[str]:
    """The folders and files bound read-only, outermost first, none inside another."""
    wanted = [sys.base_prefix, sys.prefix, _real(sys.executable), project_root / "rlcore", *extra]
    paths = sorted({_real(p) for p in wanted if os.path.exists(p)}, key=lambda p: (p.count(os.sep), p))
    kept: list[str] = []
    for path in paths:
        if path == "/usr" or path.startswith("/usr/") or any(path == k or path.startswith(k + os.sep) for k in kept):
            continue
        kept.append(path)
    return kept


def _data_fd(text: str) -> int:
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    return read


def _etc_files(home: str, uid: int) -> dict[str, str]:
    return {"/etc/passwd": f"root:x:0:0:root:/:/usr/sbin/nologin\nsandbox:x:{uid}:{uid}:sandbox:{home}:"
                           "/usr/sbin/nologin\n",
            "/etc/group": f"root:x:0:\nsandbox:x:{uid}:\n",
            "/etc/hosts": f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n",
            "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n"}


def build(run_dir: Path, inner: list[str], *, uid: int, project_root: Path, boot: Path,
          read_only: tuple[Path, ...], tmp_mb: int, shm_mb: int) -> Launch:
    """The bwrap command running ``inner`` with ``run_dir`` as the only writable folder."""
    exe = shutil.which("bwrap") or "bwrap"
    launch = Launch([exe, *NAMESPACES, *identity_args(), "--hostname", HOSTNAME, "--die-with-parent",
                     "--new-session", "--proc", "/proc", "--dev", "/dev",
                     "--perms", "1777", "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp",
                     "--perms", "1777", "--size", str(shm_mb * 2**20), "--tmpfs", "/dev/shm"])
    try:
        for path in SYSTEM_DIRS:
            if os.path.isdir(path):
                _bind(launch, "--ro-bind", path)
        for path in SYSTEM_LINKS:
            if os.path.islink(path):
                launch.argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                _bind(launch, "--ro-bind", path)
        for path in ETC_FILES:
            if os.path.isfile(path):
                _bind(launch, "--ro-bind", path)
        for path, text in _etc_files(str(run_dir), uid).items():
            fd = _data_fd(text)
            launch.fds.append(fd)
            launch.argv += ["--perms", "0444", "--file", str(fd), path]
        for path in read_only_paths(project_root, read_only):
            _bind(launch, "--ro-bind", path)
        _bind(launch, "--ro-bind", _real(boot), BOOT_PATH)
        _bind(launch, "--bind", _real(run_dir))
        seccomp = filter_fd()
        if seccomp is not None:
            launch.fds.append(seccomp)
            launch.argv += ["--seccomp", str(seccomp)]
            launch.isolation.append("seccomp (no new user namespaces)")
        else:
            launch.isolation.append("no seccomp filter for this machine (new user namespaces possible)")
    except OSError:
        launch.close()
        raise
    launch.argv += ["--chdir", _real(run_dir), "--", *inner]
    who = f"uid {uid}" if drop_to_nobody() else f"user namespace, uid {uid}"
    launch.isolation[:0] = ["bubblewrap", f"unprivileged ({who}, no capabilities, no_new_privs)",
                         "pid namespace (whole tree killed at the end)", "network namespace (loopback only)",
                         "ipc, uts and cgroup namespaces", "private mount view (run folder the only writable bind)",
                         f"private /tmp ({tmp_mb} MB) and /dev/shm ({shm_mb} MB)"]
    return launch


def _bind(launch: Launch, option: str, path: str, dest: str | None = None) -> None:
    """Bind ``path`` (at ``dest``, default the same place), missing parent folders made 0755."""
    dest = dest or path
    made = launch.__dict__.setdefault("_dirs", {"/", "/tmp", "/dev", "/proc", "/etc"})
    parents = [str(p) for p in reversed(Path(dest).parents) if str(p) not in made]
    for parent in parents:  # bwrap would make them 0700, closed to the run's uid
        launch.argv += ["--perms", "0755", "--dir", parent]
        made.add(parent)
    launch.argv += [option, path, dest]


def hand_over(run_dir: Path, uid: int) -> None:
    """Make the run folder writable by the run's uid (when the product runs as root)."""
    if drop_to_nobody():
        from copilot.codegen.sandbox_watch import hand_over as give

        give(run_dir, uid)
