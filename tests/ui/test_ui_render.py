"""Pure formatting of the web UI: chat turns, cited sources, search results, badges."""

from __future__ import annotations

from copilot.chat import Source
from copilot.index import Hit
from copilot.ui.render import (
    Turn,
    chat_messages,
    close_fences,
    history_for_model,
    human_size,
    progress_html,
    search_results_html,
    snippet,
    source_message,
    status_html,
    turn_messages,
)


def test_snippet_cuts_at_a_line_or_word_boundary():
    assert snippet("short text", 50) == "short text"
    text = "alpha beta gamma delta epsilon"
    assert snippet(text, 14) == "alpha beta …"
    lines = "first line is long enough\nsecond line\nthird"
    assert snippet(lines, 40) == "first line is long enough\nsecond line …"


def test_close_fences_closes_only_an_open_block():
    assert close_fences("```python\nx = 1") == "```python\nx = 1\n```"
    assert close_fences("```\nx\n```") == "```\nx\n```"


def test_source_message_is_a_collapsed_titled_message_with_the_path():
    src = Source(2, "PPO: clipping", "corpus/papers/ppo.md", "paper", 0.03, "The ratio is clipped.")
    msg = source_message(src)
    assert msg["metadata"] == {"title": "[2] PPO: clipping · corpus/papers/ppo.md", "status": "done"}
    assert msg["content"] == "The ratio is clipped."
    api = Source(1, "rlcore.returns.gae", "rlcore.returns.gae", "api", 0.02, "")
    assert source_message(api)["metadata"]["title"] == "[1] rlcore.returns.gae"
    prompt_block = Source(3, "GAE", "corpus/papers/gae.md", "paper", 0.1,
                          "[3] GAE (corpus/papers/gae.md)\nBody.")
    assert source_message(prompt_block)["content"] == "Body."


def test_turn_messages_while_streaming_and_when_done():
    src = Source(1, "GAE", "corpus/papers/gae.md", "paper", 0.03, "lambda trades bias for variance")
    turn = Turn("What is GAE?", answer="", sources=[src])
    streaming = turn_messages(turn, streaming=True)
    assert [m["role"] for m in streaming] == ["user", "assistant"]
    assert streaming[1]["content"] == "…"  # placeholder, sources only once finished
    turn.answer, turn.model, turn.timings = "GAE mixes n-step returns [1].", "m", {"first_token_s": 1.0,
                                                                                   "total_s": 2.5}
    done = turn_messages(turn)
    assert len(done) == 3
    assert done[1]["content"].startswith("GAE mixes n-step returns [1].")
    assert "total 2.5 s" in done[1]["content"]
    assert done[2]["metadata"]["title"].startswith("[1] GAE")


def test_notes_mark_stops_and_errors():
    stopped = turn_messages(Turn("q", answer="partial", note="Stopped."))[1]["content"]
    assert "partial" in stopped and "*Stopped.*" in stopped
    failed = turn_messages(Turn("q", note="No model is available yet.", error=True))[1]["content"]
    assert "*⚠ No model is available yet.*" in failed


def test_history_for_model_keeps_answered_turns_only():
    turns = [Turn("q1", answer="a1"), Turn("q2", note="broken", error=True), Turn("q3", answer="")]
    assert history_for_model(turns) == [{"role": "user", "content": "q1"},
                                        {"role": "assistant", "content": "a1"}]


def test_chat_messages_appends_the_pending_turn_last():
    msgs = chat_messages([Turn("q1", answer="a1")], Turn("q2"))
    assert [m["content"] for m in msgs if m["role"] == "user"] == ["q1", "q2"]
    assert msgs[-1]["content"] == "…"


def test_human_size():
    assert human_size(0) == "-"
    assert human_size(512) == "512 B"
    assert human_size(491_400_064) == "491 MB"
    assert human_size(1_117_320_768) == "1.12 GB"


def test_progress_html_clamps_and_labels():
    html = progress_html(2_048, 4_000)
    assert "2,048 / 4,000 steps (51%)" in html and "width:51.2%" in html
    assert "width:100.0%" in progress_html(5_000, 4_000)
    assert "width:0.0%" in progress_html(3, 0)


def test_status_and_results_escape_html():
    assert "&lt;script&gt;" in status_html("<script>", "error")
    hit = Hit("id", "A <b> title", "corpus/x.md", "doc", "text & more", 0.5, 1, None)
    out = search_results_html("q", [hit])
    assert "A &lt;b&gt; title" in out and "text &amp; more" in out and "corpus/x.md" in out
    assert "No results" in search_results_html("zzz", [])
    assert "Type a query" in search_results_html("  ", [])
