"""Pure budgeting and streaming helpers, isolated with a word-counting fake model."""

from __future__ import annotations

import pytest

from copilot.llm.base import (
    MESSAGE_OVERHEAD,
    REPLY_OVERHEAD,
    ModelError,
    answer_budget,
    check_messages,
    cut_at_stop,
    default_threads,
    fit_messages,
    fit_sources,
    prompt_budget,
    truncate_to_tokens,
)

from fake_llm import FakeLLM


def WordLLM(n_ctx: int = 200) -> FakeLLM:  # noqa: N802 - stands where a class stood
    """One token per whitespace-separated word; records what reaches ``_stream``."""
    return FakeLLM(["ok ", "STOP", " never"], name="llm", n_ctx=n_ctx, tokens="words", record="calls")


def words(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def test_cut_at_stop_catches_a_stop_split_across_pieces() -> None:
    out = "".join(cut_at_stop(["Hel", "lo ST", "OP and more"], ["STOP"]))
    assert out == "Hello "


def test_cut_at_stop_passes_text_through_without_a_stop() -> None:
    pieces = ["a", "bc", "", "def", "g"]
    assert "".join(cut_at_stop(pieces, ["xyz"])) == "abcdefg"
    assert list(cut_at_stop(pieces, [])) == pieces


def test_cut_at_stop_uses_the_earliest_of_several_stops() -> None:
    assert "".join(cut_at_stop(["one END two", " STOP"], ["STOP", "END"])) == "one "
    assert "".join(cut_at_stop(["STOP at once"], ["STOP"])) == ""


def test_truncate_to_tokens_keeps_the_longest_prefix_that_fits() -> None:
    llm = WordLLM()
    text = words(50)
    cut = truncate_to_tokens(llm, text, 10, mark="")
    assert cut.split() == text.split()[:10]
    marked = truncate_to_tokens(llm, text, 10, mark=" [cut]")
    assert llm.count_tokens(marked) == 10 and marked.endswith("[cut]")
    assert truncate_to_tokens(llm, "short text", 10) == "short text"
    assert truncate_to_tokens(llm, text, 0) == ""


def test_answer_budget_is_capped_at_half_the_window() -> None:
    assert answer_budget(4096, 512) == 512
    assert answer_budget(1024, 4000) == 512
    assert answer_budget(1024, 0) == 1


def test_prompt_budget_subtracts_answer_and_template() -> None:
    llm = WordLLM(n_ctx=100)
    msgs = [{"role": "user", "content": words(10)}]
    expected = 100 - 20 - (10 + MESSAGE_OVERHEAD + REPLY_OVERHEAD)
    assert prompt_budget(llm, msgs, 20) == expected


def test_fit_sources_keeps_order_cuts_the_overflowing_one_and_drops_the_rest() -> None:
    llm = WordLLM()
    sources = [words(30, "a"), words(30, "b"), words(100, "c"), words(5, "d")]
    kept = fit_sources(llm, sources, budget=110, separator="", min_tail=10)
    assert kept[:2] == sources[:2]
    assert len(kept) == 3 and kept[2].startswith("c0 c1") and llm.count_tokens(kept[2]) <= 50
    assert fit_sources(llm, sources, budget=65, separator="", min_tail=10) == sources[:2]


def test_fit_messages_leaves_fitting_chats_alone() -> None:
    llm = WordLLM(n_ctx=200)
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert fit_messages(llm, msgs, 50) == (msgs, 50)


def test_fit_messages_drops_oldest_history_before_cutting() -> None:
    llm = WordLLM(n_ctx=200)
    msgs = [{"role": "system", "content": words(20, "s")}]
    for turn in range(6):
        msgs += [{"role": "user", "content": words(20, f"q{turn}")},
                 {"role": "assistant", "content": words(20, f"a{turn}")}]
    msgs.append({"role": "user", "content": words(10, "last")})
    fitted, answer = fit_messages(llm, msgs, 50)
    assert answer == 50
    assert fitted[0] == msgs[0] and fitted[-1] == msgs[-1]
    assert fitted[1:-1] == msgs[len(msgs) - len(fitted) + 1:-1]  # a suffix of the history
    assert llm.count_messages(fitted) + answer <= llm.n_ctx
    assert llm.count_messages(fitted + [msgs[len(msgs) - len(fitted)]]) + answer > llm.n_ctx


def test_fit_messages_cuts_one_huge_message_to_fit() -> None:
    llm = WordLLM(n_ctx=300)
    msgs = [{"role": "system", "content": "answer from sources"},
            {"role": "user", "content": words(5000, "src") + " question?"}]
    fitted, answer = fit_messages(llm, msgs, 100)
    assert fitted[0] == msgs[0]
    assert fitted[1]["content"].startswith("src0 src1")
    assert llm.count_messages(fitted) + answer <= 300
    assert llm.count_messages(fitted) + answer >= 300 - 5  # cut close to the limit, not to nothing


def test_stream_never_hands_an_overflowing_prompt_to_the_backend() -> None:
    llm = WordLLM(n_ctx=256)
    history = [{"role": "user", "content": words(400)}, {"role": "assistant", "content": "x"}]
    text = llm.complete(history + [{"role": "user", "content": words(900)}], max_tokens=1000)
    assert text == "ok STOP never"
    sent, max_tokens = llm.seen[-1]
    assert max_tokens == 128
    assert llm.count_messages(sent) + max_tokens <= 256


def test_stream_rejects_bad_messages_with_one_sentence() -> None:
    llm = WordLLM()
    with pytest.raises(ModelError, match=r"role 'robot'.*accepted roles are system, user, assistant"):
        llm.complete([{"role": "robot", "content": "hi"}])
    with pytest.raises(ModelError, match="at least one user message"):
        llm.complete([])
    with pytest.raises(ModelError, match="max_tokens is 0"):
        llm.complete([{"role": "user", "content": "hi"}], max_tokens=0)
    assert check_messages([{"role": "user", "content": "hi", "extra": 1}]) == [
        {"role": "user", "content": "hi"}]


def test_default_threads_uses_every_core_for_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 7)
    assert default_threads(0) == 7
    assert default_threads(3) == 3
