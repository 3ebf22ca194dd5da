"""The run-output reader: line splitting, capped lines, a bounded tail, linear cost."""

from __future__ import annotations

import io
import time

from copilot.codegen.sandbox_log import LINE_BYTES, TAIL_BYTES, LineSplitter, Reader, Tail


def _split(*chunks: bytes) -> list[str]:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.close()
    return lines


def test_lines_end_at_lf_crlf_or_cr_even_across_chunks():
    assert _split(b"a\nb\r\nc\rd") == ["a", "b", "c", "d"]
    assert _split(b"a\r", b"\nb\r", b"c\n") == ["a", "b", "c"]
    assert _split(b"half", b" line\n", b"") == ["half line"]


def test_utf8_split_between_chunks_is_decoded_whole():
    text = "é漢字\n".encode()
    assert _split(text[:2], text[2:4], text[4:]) == ["é漢字"]


def test_long_lines_are_cut_with_a_marker():
    lines = _split(b"x" * 10_000 + b"\nshort\n")
    assert lines[0].startswith("x" * LINE_BYTES) and "line cut: 10,000 bytes" in lines[0]
    assert len(lines[0]) < LINE_BYTES + 80 and lines[1] == "short"


def test_a_100_mb_line_costs_linear_time():
    splitter = LineSplitter(lambda line: None)
    chunk = b"y" * 2**20
    t0 = time.perf_counter()
    for _ in range(100):
        splitter.feed(chunk)
    splitter.close()
    assert time.perf_counter() - t0 < 5  # the quadratic reader took minutes


def test_tail_is_bounded_in_lines_and_bytes():
    tail = Tail(lines=40)
    for i in range(100):
        tail.add(f"{i}:" + "z" * 3000)
    text = tail.text()
    assert len(text.encode()) <= TAIL_BYTES and text.endswith("z") and text.split("\n")[-1].startswith("99:")
    one = Tail(max_bytes=100)
    one.add("w" * 500)
    assert len(one.text().encode()) <= 100


def test_progress_lines_collapse_into_the_last():
    tail = Tail()
    for step in range(0, 1000, 100):
        tail.add(f"ppo: {step}/1000 [00:01<00:02]")
    tail.add("eval return 9.0")
    assert tail.text() == "eval return 9.0\nppo: 900/1000 [00:01<00:02]"


def test_reader_feeds_listener_and_survives_a_broken_one():
    seen: list[str] = []

    def listener(line: str) -> None:
        seen.append(line)
        if line == "two":
            raise RuntimeError("listener broke")

    reader = Reader(io.BytesIO(b"one\ntwo\nthree\n"), listener)
    reader.run()
    assert seen == ["one", "two"] and reader.text() == "one\ntwo\nthree"
