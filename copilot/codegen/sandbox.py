"""Running a training script in a child process with limits, no network and a live log.

The product never imports generated code: the script runs as ``python -I -u
sandbox_boot.py ... SCRIPT`` in its own run folder, in a new session (its own process
group), with a scrubbed environment (``PATH``, ``HOME`` = the run folder, ``TMPDIR`` inside
it, offline Hugging Face flags, ``RLCORE_THREADS=1``), stdin closed and stdout/stderr
streamed back line by line (``\\r`` progress updates included).

Layers, and what is best-effort where:

* **Wall time**: enforced everywhere; on expiry (or cancellation) the whole process group
  is killed with SIGKILL (on Windows only the child process).
* **CPU time, memory (address space), file size, no core dumps**: ``setrlimit`` applied by
  the bootstrap in the child itself before the script starts (not ``preexec_fn``, which is
  unsafe when the caller has threads, as the web UI does). Enforced on Linux; macOS does
  not enforce ``RLIMIT_AS``; Windows has no ``resource`` module, so none apply there.
  ``RLIMIT_NPROC`` is deliberately not set: it counts every thread of the *user* (torch
  starts several), not of the run, so any safe value is either useless or breaks torch;
  starting processes is refused by the audit hook instead.
* **No network**: on Linux the child runs in a fresh network namespace (``unshare -rn``,
  only a down loopback device) when unprivileged user namespaces are available; this is
  checked once per process. Everywhere, as a second layer, the bootstrap installs a
  ``sys.addaudithook`` hook refusing non-local ``socket.connect/bind/sendto``, DNS look-ups,
  ``subprocess``/``os.system``/``exec``/``spawn``/``fork``, and writes, renames or deletes
  outside the run folder. An audit hook cannot stop native code; that is why the static
  validator refuses ``ctypes``, ``cffi`` and friends before a script runs.
"""

from __future__ import annotations

import codecs
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from copilot.codegen.errors import CodegenError

BOOT = Path(__file__).with_name("sandbox_boot.py")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MEMORY_MB = 4096
DEFAULT_FILE_MB = 512
TAIL_LINES = 40
PROGRESS = re.compile(r"(\d+)/(\d+)\s*\[")
_NETNS: bool | None = None


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


def parse_progress(line: str) -> tuple[int, int] | None:
    """(step, total) from a progress-bar line such as ``41%|####  | 10240/25000 [00:03<...]``."""
    m = PROGRESS.search(line)
    return (int(m.group(1)), int(m.group(2))) if m else None


def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` works here (checked once per process)."""
    global _NETNS
    if _NETNS is None:
        exe = shutil.which("unshare") if sys.platform.startswith("linux") else None
        try:
            _NETNS = bool(exe) and subprocess.run([exe, "-rn", "true"], capture_output=True,
                                                  timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            _NETNS = False
    return _NETNS


def child_env(run_dir: Path) -> dict[str, str]:
    """The scrubbed environment of the child."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(run_dir), "LANG": "C.UTF-8",
            "TMPDIR": str(run_dir / "tmp"), "MPLCONFIGDIR": str(run_dir / ".cache" / "matplotlib"),
            "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RLCORE_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_MININTERVAL": "1",
            "PYTHONPATH": str(PROJECT_ROOT)}


def limits_for(budget_s: float, memory_mb: int, file_mb: int) -> dict[str, int]:
    return {"RLIMIT_CPU": int(2 * budget_s + 60), "RLIMIT_AS": memory_mb * 2**20,
            "RLIMIT_FSIZE": file_mb * 2**20, "RLIMIT_CORE": 0}


def command(script: Path, limits: dict[str, int], isolation: list[str]) -> list[str]:
    cmd = [sys.executable, "-I", "-u", str(BOOT), json.dumps(limits), str(PROJECT_ROOT), str(script)]
    isolation += ["process group", "scrubbed environment", "audit hook"]
    if os.name == "posix":
        isolation.append("rlimits")
    if network_namespace_available():
        isolation.append("network namespace")
        return [shutil.which("unshare") or "unshare", "-rn", *cmd]
    return cmd


class _Reader(threading.Thread):
    """Reads the child's output, splits it into lines at ``\\n`` or ``\\r``, keeps a tail."""

    def __init__(self, stream, on_output: Callable[[str], None] | None):
        super().__init__(daemon=True)
        self.stream, self.on_output = stream, on_output
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.last_progress: str | None = None

    def emit(self, line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        if parse_progress(line):
            self.last_progress = line
        else:
            self.tail.append(line)
        if self.on_output is not None:
            try:
                self.on_output(line)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the run
                self.on_output = None

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buf = ""
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not chunk:
                break
            buf += decoder.decode(chunk)
            *lines, buf = re.split(r"\r\n|\r|\n", buf)
            for line in lines:
                self.emit(line)
        self.emit(buf + decoder.decode(b"", final=True))

    def text(self) -> str:
        lines = list(self.tail) + ([self.last_progress] if self.last_progress else [])
        return "\n".join(lines)


def _kill(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def last_error_line(log: str) -> str | None:
    """The ``SomeError: message`` line a traceback ends with, if any."""
    for line in reversed(log.splitlines()):
        m = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)):?\s*(.*)$", line.strip())
        if m:
            return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2)}".rstrip(": ")
    return None


def explain(rc: int | None, log: str, *, timed_out: bool, cancelled: bool, budget_s: float,
            memory_mb: int, file_mb: int, has_manifest: bool) -> str | None:
    """One sentence on why a run failed (None when it succeeded)."""
    if cancelled:
        return "The run was cancelled."
    if timed_out:
        return f"The run did not finish within its wall-time limit of {budget_s:.0f} s and was stopped."
    error = last_error_line(log)
    memory_words = ("MemoryError", "can't allocate memory", "Unable to allocate", "std::bad_alloc",
                    "Cannot allocate memory", "out of memory")
    if any(w in log[-3000:] for w in memory_words) or (rc is not None and rc < 0 and -rc == signal.SIGABRT
                                                      and "alloc" in log[-3000:]):
        return f"The script ran out of its memory limit of {memory_mb} MB and was stopped."
    if rc is not None and rc < 0 and -rc == getattr(signal, "SIGXCPU", -1):
        return "The script used up its CPU-time limit and was stopped."
    if rc is not None and rc < 0 and -rc == getattr(signal, "SIGXFSZ", -1):
        return f"The script wrote a file larger than the {file_mb} MB limit and was stopped."
    if rc == 0 and has_manifest:
        return None
    if rc == 0:
        return "The script finished without writing run.json, so there is no finished run to report."
    if error:
        text = " ".join(error.split())
        return f"The script failed with {text[:300]}" + ("" if text.endswith(".") else ".")
    return f"The script exited with status {rc} before finishing its run."


def _read_manifest(run_dir: Path, since: float) -> dict[str, Any] | None:
    path = run_dir / "run.json"
    try:
        if path.stat().st_mtime + 1.0 < since:
            return None  # left over from an earlier run
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def prepare_run_dir(path: Path, out: Path | None) -> Path:
    """The script's path inside its run folder (copied there when ``out`` is another folder)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise CodegenError(f"Script {str(path)!r} does not exist; pass the path of a .py file.")
    run_dir = Path(out).resolve() if out else path.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "tmp").mkdir(exist_ok=True)
    if path.parent != run_dir:
        target = run_dir / path.name
        shutil.copyfile(path, target)
        path = target
    return path


def run_script(path: str | Path, *, budget_s: float, out: str | Path | None = None,
               on_output: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
               memory_mb: int = DEFAULT_MEMORY_MB, file_mb: int = DEFAULT_FILE_MB,
               validate: bool = True) -> RunResult:
    """Run the script at ``path`` in the sandbox, in ``out`` (default: the script's folder).

    ``on_output`` receives each output line as it comes; setting ``cancel`` stops the run.
    With ``validate`` the script is first checked statically and refused if it fails.
    ``ok`` is True only when the script exited cleanly and wrote a fresh run.json.
    """
    if budget_s <= 0:
        raise CodegenError(f"The run budget must be a positive number of seconds; got {budget_s}.")
    script = prepare_run_dir(Path(path), Path(out) if out else None)
    run_dir = script.parent
    if validate:
        from copilot.codegen.validate import ScriptError, validate_script

        try:
            validate_script(script.read_text(encoding="utf-8"), script.name)
        except ScriptError as exc:
            return RunResult(False, str(exc), run_dir, script)
    isolation: list[str] = []
    cmd = command(script, limits_for(budget_s, memory_mb, file_mb), isolation)
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=run_dir, env=child_env(run_dir), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    reader = _Reader(proc.stdout, on_output)
    reader.start()
    timed_out = cancelled = False
    deadline = time.monotonic() + budget_s
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            cancelled = True
        elif time.monotonic() > deadline:
            timed_out = True
        if cancelled or timed_out:
            _kill(proc)
            break
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
    rc = proc.wait()
    _kill(proc)  # anything the script left in its process group
    reader.join(timeout=5)
    log = reader.text()
    manifest = None if (timed_out or cancelled or rc != 0) else _read_manifest(run_dir, start)
    error = explain(rc, log, timed_out=timed_out, cancelled=cancelled, budget_s=budget_s,
                    memory_mb=memory_mb, file_mb=file_mb, has_manifest=manifest is not None)
    curve = run_dir / "curve.png"
    return RunResult(error is None, error, run_dir, script, rc, time.time() - start, timed_out, cancelled,
                     manifest, str(curve) if manifest and curve.is_file() else None, log, isolation)
