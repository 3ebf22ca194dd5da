"""What ``python -m copilot run/generate`` prints: control characters shown, finished runs named."""

from __future__ import annotations

from copilot.codegen.cli import _summary, visible


def test_control_characters_are_shown_not_sent():
    assert visible("\x1b]52;c;Zm9v\x07\x1b[1A\tok\r\x7f\x9b") == "^[]52;c;Zm9v^G^[[1A\tok^M^?\\x9b"
    assert visible("plain text, é and 中文") == "plain text, é and 中文"


def test_a_finished_run_with_an_empty_run_json_is_not_reported_as_not_run():
    assert _summary(True, None, {}, "/runs/r").startswith("? on ?: ? steps")
    assert _summary(True, None, None, "/runs/r") == "script ready (not run): /runs/r"
    hostile = {"algo": "\x1b[2Jppo", "env": "C", "total_steps": 5, "wall_time_s": "soon", "eval": []}
    assert _summary(True, None, hostile, "/r") == "^[[2Jppo on C: 5 steps in ? s; eval return n/a; run folder /r"
