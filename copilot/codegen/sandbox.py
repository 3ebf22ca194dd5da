"""Running a training script inside an OS-level sandbox, with limits and a live log.

The product never imports generated code. Every script (generated, edited in the UI or
passed to ``copilot run``) runs as ``bwrap ... python -I -u sandbox_boot.py ... SCRIPT``
in its run folder; where bubblewrap cannot run, nothing runs (one sentence says why:
there is no weaker fallback). The layers, outermost first:

* **bubblewrap** (:mod:`copilot.codegen.sandbox_bwrap`): new PID, network, IPC, UTS and
  cgroup namespaces; a mount view with only the interpreter, the virtualenv, the project's
  ``rlcore`` package, ``/usr`` and the libraries readable (no home folder, no copilot
  index, models or caches, no other runs); the run folder the only writable bind; private
  size-limited ``/tmp`` and ``/dev/shm``; an unprivileged uid (one of the run's own when
  the product runs as root, 65534 in a user namespace otherwise) with no capabilities and
  ``no_new_privs``; a seccomp filter (:mod:`copilot.codegen.sandbox_seccomp`) refuses new
  user namespaces. The PID namespace dies with its init, so ``setsid`` children and
  anything else the script started die when the run ends or is killed.
* **limits set in the child** (:mod:`copilot.codegen.sandbox_boot`): CPU time, file size,
  number of processes and threads (``RLIMIT_NPROC``, default 512, room for a local Ray), no
  core dumps; inherited by every process the script starts.
* **a memory cgroup** (:mod:`copilot.codegen.sandbox_cgroup`) where the machine lets the
  product make one: the kernel enforces the memory limit (tmpfs pages included).
* **limits watched by the parent** (:mod:`copilot.codegen.sandbox_watch`): wall time, the
  resident memory of the whole process tree and the size of the run folder, checked every
  tick; past a limit the tree is killed and the run says which limit it hit.
* **a scrubbed environment** (``HOME`` = the run folder, ``TMPDIR=/tmp``, offline Hugging
  Face flags, one thread per library), stdin closed, stdout/stderr read linearly with
  bounded lines and a bounded tail (:mod:`copilot.codegen.sandbox_log`).
* **early, friendly errors**: the static validator (:mod:`copilot.codegen.validate`) and an
  audit hook in the child refusing writes outside the run folder and connections to
  non-loopback hosts. These are conveniences, not the wall: the tests in
  ``tests/copilot/codegen/test_sandbox_hostile.py`` bypass them and probe the OS layers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from copilot.codegen.errors import CodegenError

from copilot.codegen import sandbox_bwrap
from copilot.codegen.errors import CodegenError
from copilot.codegen.sandbox_bwrap import SandboxUnavailable, sandbox_problem
from copilot.codegen.sandbox_cgroup import MemoryCgroup
from copilot.codegen.sandbox_log import Reader, parse_progress
from copilot.codegen.sandbox_watch import Watch, kill_tree, sanitize

BOOT = Path(__file__).with_name("sandbox_boot.py")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MEMORY_MB = 4096
DEFAULT_FILE_MB = 512
DEFAULT_DISK_MB = 2048
DEFAULT_TASKS = 512
TICK_S = 0.2

__all__ = ["RunResult", "SandboxUnavailable", "parse_progress", "run_script", "sandbox_problem"]


@dataclass
class RunResult:
    """The outcome of one sandboxed run."""

    ok: bool
    error: str | None
    run_dir: Path
    script_path: Path
    returncode: int | None = None
    wall_s: float = 0.0
    timed_out: bool = False
    cancelled: bool = False
    manifest: dict[str, Any] | None = None
    curve_png: str | None = None
    log_tail: str = ""
    isolation: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "error": self.error, "run_dir": str(self.run_dir),
                "script_path": str(self.script_path), "returncode": self.returncode,
                "wall_s": round(self.wall_s, 2), "timed_out": self.timed_out, "cancelled": self.cancelled,
                "manifest": self.manifest, "curve_png": self.curve_png, "log_tail": self.log_tail,
                "isolation": self.isolation}


def child_env(run_dir: Path, memory_mb: int = DEFAULT_MEMORY_MB, file_mb: int = DEFAULT_FILE_MB) -> dict[str, str]:
    """The scrubbed environment of the child.

    A local Ray's object store (one file in ``/dev/shm``) is kept to a quarter of the memory
    limit and half the file-size limit, which would otherwise stop its raylet with SIGXFSZ.
    """
    store = min(memory_mb // 4, file_mb // 2) * 2**20
    return {"RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES": str(store), "RAY_USAGE_STATS_ENABLED": "0",
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(run_dir), "LANG": "C.UTF-8", "USER": "sandbox",
            "TMPDIR": "/tmp", "MPLCONFIGDIR": str(run_dir / ".cache" / "matplotlib"),
            "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RLCORE_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_MININTERVAL": "1",
            "PYTHONPATH": str(PROJECT_ROOT)}


def limits_for(budget_s: float, file_mb: int, tasks: int) -> dict[str, int]:
    """The rlimits the bootstrap sets in the child (memory is watched by the parent instead)."""
    return {"RLIMIT_CPU": int(2 * budget_s + 60), "RLIMIT_FSIZE": file_mb * 2**20, "RLIMIT_CORE": 0,
            "RLIMIT_NPROC": tasks}


def last_error_line(log: str) -> str | None:
    """The ``SomeError: message`` line a traceback ends with, if any."""
    for line in reversed(log.splitlines()):
        m = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)):?\s*(.*)$", line.strip())
        if m:
            return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2)}".rstrip(": ")
    return None


@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    budget_s: float
    memory_mb: int = DEFAULT_MEMORY_MB
    file_mb: int = DEFAULT_FILE_MB
    disk_mb: int = DEFAULT_DISK_MB
    tasks: int = DEFAULT_TASKS


def _stopped(stop: str, limits: Limits) -> str:
    return {"cancelled": "The run was cancelled.",
            "timed_out": f"The run did not finish within its wall-time limit of {limits.budget_s:.0f} s "
                         "and was stopped.",
            "memory": f"The script ran out of its memory limit of {limits.memory_mb} MB and was stopped.",
            "disk": f"The script wrote more than its disk limit of {limits.disk_mb} MB into its run folder "
                    "and was stopped."}[stop]


def explain(rc: int | None, log: str, *, stop: str | None, limits: Limits, has_manifest: bool) -> str | None:
    """One sentence on why a run failed (None when it succeeded); ``stop`` is a limit the parent enforced."""
    if stop:
        return _stopped(stop, limits)
    error = last_error_line(log)
    memory_words = ("MemoryError", "can't allocate memory", "Unable to allocate", "std::bad_alloc",
                    "Cannot allocate memory", "out of memory")
    if any(w in log[-3000:] for w in memory_words) or (rc is not None and rc < 0 and -rc == signal.SIGABRT
                                                      and "alloc" in log[-3000:]):
        return _stopped("memory", limits)
    if rc in (-getattr(signal, "SIGXCPU", 0), 128 + getattr(signal, "SIGXCPU", 0)):
        return "The script used up its CPU-time limit and was stopped."
    if rc in (-getattr(signal, "SIGXFSZ", 0), 128 + getattr(signal, "SIGXFSZ", 0)) or \
            "[Errno 27] File too large" in log[-3000:]:
        return f"The script wrote a file larger than the {limits.file_mb} MB limit and was stopped."
    if rc == 0 and has_manifest:
        return None
    if rc == 0:
        return "The script finished without writing run.json, so there is no finished run to report."
    if error:
        text = " ".join(error.split())
        return f"The script failed with {text[:300]}" + ("" if text.endswith(".") else ".")
    return f"The script exited with status {rc} before finishing its run."


def _read_manifest(run_dir: Path, since: float) -> dict[str, Any] | None:
    """run.json if the run wrote it (a regular file, not a link, fresh, under 16 MB)."""
    try:
        fd = os.open(run_dir / "run.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 16 * 2**20 or st.st_mtime + 1.0 < since:
            return None  # not a plain file, too big, or left over from an earlier run
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # json raises RecursionError on deep nesting
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def prepare_run_dir(path: Path, out: Path | None) -> Path:
    """The script's path inside its run folder (copied there when ``out`` is another folder)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise CodegenError(f"Script {str(path)!r} does not exist; pass the path of a .py file.")
    run_dir = Path(out).resolve() if out else path.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    if path.parent != run_dir:
        target = run_dir / path.name
        shutil.copyfile(path, target)
        path = target
    return path


def _validate(script: Path) -> str | None:
    from copilot.codegen.validate import ScriptError, validate_script

    try:
        validate_script(script.read_text(encoding="utf-8"), script.name)
    except ScriptError as exc:
        return str(exc)
    return None


def _supervise(proc: subprocess.Popen, watch: Watch, limits: Limits, cancel: threading.Event | None) -> str | None:
    """Wait for the run, killing its tree on cancel or past a limit; returns which stop applied."""
    deadline = time.monotonic() + limits.budget_s
    stop = None
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            stop = "cancelled"
        elif time.monotonic() > deadline:
            stop = "timed_out"
        else:
            stop = watch.check()
        if stop:
            kill_tree(proc.pid)
            break
        try:
            proc.wait(timeout=TICK_S)
        except subprocess.TimeoutExpired:
            pass
    proc.wait()
    if stop is None and watch.disk_used() > watch.disk_bytes:
        stop = "disk"  # what a short run left behind is measured too
    return stop


def _launch(script: Path, limits: Limits, read_only: tuple[str | Path, ...]) -> sandbox_bwrap.Launch:
    """The bwrap command for ``script``, its run folder handed to the run's uid."""
    run_dir = script.parent
    uid = sandbox_bwrap.run_uid()
    sandbox_bwrap.hand_over(run_dir, uid)
    boot_args = {"limits": limits_for(limits.budget_s, limits.file_mb, limits.tasks),
                 "uid": uid if sandbox_bwrap.drop_to_nobody() else None}
    inner = [sys.executable, "-I", "-u", sandbox_bwrap.BOOT_PATH, json.dumps(boot_args), str(PROJECT_ROOT),
             str(script)]
    return sandbox_bwrap.build(run_dir, inner, uid=uid, project_root=PROJECT_ROOT, boot=BOOT,
                               read_only=tuple(Path(p) for p in read_only), tmp_mb=limits.disk_mb,
                               shm_mb=limits.memory_mb)


def _execute(launch: sandbox_bwrap.Launch, run_dir: Path, limits: Limits, on_output: Callable[[str], None] | None,
             cancel: threading.Event | None) -> tuple[int | None, str | None, Reader]:
    """Start the sandbox (in a memory cgroup where one can be made), supervise it to its end;
    returns (exit status, which limit stopped it if any, the output reader)."""
    group = MemoryCgroup.create(limits.memory_mb * 2**20)
    launch.isolation.append(f"memory cgroup v{group.version} ({limits.memory_mb} MB)" if group else
                            "memory cgroup unavailable here (watchdog only)")
    try:
        try:
            proc = subprocess.Popen(group.wrap(launch.argv) if group else launch.argv, cwd="/",
                                    env=child_env(run_dir, limits.memory_mb, limits.file_mb),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=tuple(launch.fds))
        finally:
            launch.close()
        reader = Reader(proc.stdout, on_output)
        reader.start()
        try:
            stop = _supervise(proc, Watch(proc.pid, run_dir, limits.memory_mb, limits.disk_mb, group), limits,
                               cancel)
        finally:
            if proc.poll() is None:  # an exception (Ctrl-C, say) interrupted the supervision
                kill_tree(proc.pid)
                proc.wait()
        reader.join(timeout=5)
        if stop is None and group is not None and group.oom_killed():
            stop = "memory"
        return proc.returncode, stop, reader
    finally:
        if group is not None:
            group.remove()


def run_script(path: str | Path, *, budget_s: float, out: str | Path | None = None,
               on_output: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
               memory_mb: int = DEFAULT_MEMORY_MB, file_mb: int = DEFAULT_FILE_MB,
               disk_mb: int = DEFAULT_DISK_MB, tasks: int = DEFAULT_TASKS,
               read_only: tuple[str | Path, ...] = (), validate: bool = True) -> RunResult:
    """Run the script at ``path`` in the sandbox, in ``out`` (default: the script's folder).

    ``on_output`` receives each output line as it comes; setting ``cancel`` stops the run.
    ``read_only`` names extra folders the script may read (the corpus, say). With
    ``validate`` the script is first checked statically and refused if it fails. ``ok`` is
    True only when the script exited cleanly and wrote a fresh run.json. Raises
    :class:`SandboxUnavailable` (one sentence) where bubblewrap cannot run: nothing runs then.
    """
    if budget_s <= 0:
        raise CodegenError(f"The run budget must be a positive number of seconds; got {budget_s}.")
    limits = Limits(budget_s, memory_mb, file_mb, disk_mb, tasks)
    script = prepare_run_dir(Path(path), Path(out) if out else None)
    run_dir = script.parent
    refused = _validate(script) if validate else None
    if refused:
        return RunResult(False, refused, run_dir, script)
    problem = sandbox_problem()
    if problem:
        raise SandboxUnavailable(problem)
    launch = _launch(script, limits, read_only)
    start = time.time()
    rc, stop, reader = _execute(launch, run_dir, limits, on_output, cancel)
    removed = sanitize(run_dir)
    if removed:
        reader.tail.add(f"sandbox: removed {len(removed)} link(s) leading outside the run folder or special "
                        f"file(s): {', '.join(removed[:5])}")
    log = reader.text()
    manifest = None if (stop or rc != 0) else _read_manifest(run_dir, start)
    error = explain(rc, log, stop=stop, limits=limits, has_manifest=manifest is not None)
    curve = run_dir / "curve.png"
    cpu_s = limits_for(budget_s, file_mb, tasks)["RLIMIT_CPU"]
    isolation = [*launch.isolation, "rlimits", f"rlimit values: cpu {cpu_s} s, file {file_mb} MB, "
                 f"{tasks} processes/threads", f"memory watchdog ({memory_mb} MB)", f"disk watchdog ({disk_mb} MB)",
                 "scrubbed environment", "audit hook"]
    return RunResult(error is None, error, run_dir, script, rc, time.time() - start, stop == "timed_out",
                     stop == "cancelled", manifest, str(curve) if manifest and curve.is_file() else None,
                     log, isolation)
