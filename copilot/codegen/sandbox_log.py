"""Reading a sandboxed run's output: linear in its size, lines and tail bounded.

The child's stdout/stderr are split into lines at ``\\n``, ``\\r\\n`` or ``\\r`` (progress
bars redraw with ``\\r``). Each chunk is scanned once, so the cost is linear in the output
even for one endless line; a line longer than :data:`LINE_BYTES` keeps its first
:data:`LINE_BYTES` bytes and ends with a marker saying how long it was. The tail kept for
the run's report holds at most :data:`TAIL_LINES` lines and :data:`TAIL_BYTES` bytes.
"""

from __future__ import annotations

import collections
import re
import threading
from typing import Callable

LINE_BYTES = 4096
TAIL_LINES = 40
TAIL_BYTES = 65536
CHUNK = 1 << 20
_BREAK = re.compile(rb"\r\n|\r|\n")
PROGRESS = re.compile(r"(\d+)/(\d+)\s*\[")


def parse_progress(line: str) -> tuple[int, int] | None:
    """(step, total) from a progress-bar line such as ``41%|####  | 10240/25000 [00:03<...]``."""
    m = PROGRESS.search(line)
    return (int(m.group(1)), int(m.group(2))) if m else None


class LineSplitter:
    """Feeds bytes in, calls ``emit(str)`` once per finished line (each at most LINE_BYTES + marker)."""

    def __init__(self, emit: Callable[[str], None], line_bytes: int = LINE_BYTES):
        self.emit, self.line_bytes = emit, line_bytes
        self.parts: list[bytes] = []
        self.kept = 0  # bytes kept of the current line
        self.total = 0  # bytes seen of the current line
        self.skip_lf = False  # the last chunk ended with \r: a leading \n belongs to it

    def _add(self, piece: bytes) -> None:
        self.total += len(piece)
        room = self.line_bytes - self.kept
        if room > 0 and piece:
            piece = piece[:room]
            self.parts.append(piece)
            self.kept += len(piece)

    def _finish(self) -> None:
        text = b"".join(self.parts).decode("utf-8", errors="replace")
        if self.total > self.kept:
            text += f" [... line cut: {self.total:,} bytes, first {self.kept:,} kept]"
        self.parts, self.kept, self.total = [], 0, 0
        self.emit(text)

    def feed(self, chunk: bytes) -> None:
        start = 0
        if self.skip_lf and chunk[:1] == b"\n":
            start = 1
        self.skip_lf = False
        for m in _BREAK.finditer(chunk, start):
            self._add(chunk[start:m.start()])
            self._finish()
            start = m.end()
        self._add(chunk[start:])
        self.skip_lf = chunk.endswith(b"\r")

    def close(self) -> None:
        if self.total:
            self._finish()


class Tail:
    """The last lines of a run's output (progress lines collapse into the latest one)."""

    def __init__(self, lines: int = TAIL_LINES, max_bytes: int = TAIL_BYTES):
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.max_bytes = max_bytes
        self.last_progress: str | None = None

    def add(self, line: str) -> None:
        if parse_progress(line):
            self.last_progress = line
        else:
            self.lines.append(line)

    def text(self) -> str:
        """The tail as text, never more than ``max_bytes`` bytes of UTF-8 (oldest lines dropped first)."""
        lines = list(self.lines) + ([self.last_progress] if self.last_progress else [])
        kept: list[str] = []
        size = 0
        for line in reversed(lines):
            cost = len(line.encode("utf-8")) + (1 if kept else 0)
            if size + cost > self.max_bytes:
                if not kept:  # a single line over the cap: keep its end
                    kept.append(line.encode("utf-8")[-self.max_bytes:].decode("utf-8", errors="ignore"))
                break
            kept.append(line)
            size += cost
        return "\n".join(reversed(kept))


class Reader(threading.Thread):
    """Reads the child's output stream to its end, keeping a :class:`Tail` and calling ``on_output``."""

    def __init__(self, stream, on_output: Callable[[str], None] | None):
        super().__init__(daemon=True)
        self.stream, self.on_output = stream, on_output
        self.tail = Tail()
        self.bytes_read = 0

    def emit(self, line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        self.tail.add(line)
        if self.on_output is not None:
            try:
                self.on_output(line)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the run
                self.on_output = None

    def run(self) -> None:
        splitter = LineSplitter(self.emit)
        read = self.stream.read1 if hasattr(self.stream, "read1") else self.stream.read
        while True:
            chunk = read(CHUNK)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            splitter.feed(chunk)
        splitter.close()

    def text(self) -> str:
        return self.tail.text()
