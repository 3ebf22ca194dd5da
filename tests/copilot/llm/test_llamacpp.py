"""The real default model through llama.cpp: loading, streaming, token counts, budgets, errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from copilot.config import Settings
from copilot.llm import ModelError, fit_sources, prompt_budget, resolve
from copilot.llm.llamacpp import LlamaCppLLM

# not imported here: the backend imports llama_cpp itself, after choosing OpenMP settings
pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed")

QUESTION = [{"role": "system", "content": "You are a concise reinforcement learning tutor."},
            {"role": "user", "content": "In one short sentence: what does a discount factor do?"}]


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


def test_default_model_streams_a_short_answer(qwen: LlamaCppLLM) -> None:
    pieces = list(qwen.stream(QUESTION, max_tokens=24, temperature=0.0))
    text = "".join(pieces)
    assert len(pieces) >= 3 and text.strip()
    assert 3 <= qwen.count_tokens(text) <= 24
    assert any(w in text.lower() for w in ("reward", "future", "value", "weigh", "importance"))


def test_count_tokens_matches_the_model_tokenizer(qwen: LlamaCppLLM) -> None:
    # golden values for the Qwen2.5 tokenizer
    assert qwen.count_tokens("Hello world") == 2
    assert qwen.count_tokens("") == 0
    llama = qwen.load()
    code = "def gae(rewards, values, gamma=0.99, lam=0.95):\n    return rewards  # TODO"
    assert qwen.count_tokens(code) == len(llama.tokenize(code.encode(), add_bos=False))
    # the chat-template count equals the prompt tokens llama.cpp itself reports
    reply = llama.create_chat_completion(messages=QUESTION, max_tokens=1, temperature=0.0)
    assert qwen.count_messages(QUESTION) == reply["usage"]["prompt_tokens"]


def test_primed_system_message_is_the_prefix_of_the_next_prompt(qwen: LlamaCppLLM) -> None:
    """prime() evaluates exactly the tokens the next chat starts with, so llama.cpp reuses them
    (a prefix that tokenized differently would silently cost the full prompt again)."""
    llama = qwen.load()
    qwen.prime(QUESTION[:1])
    primed = list(llama._input_ids)
    assert len(primed) > 10
    answer = qwen.complete(QUESTION, max_tokens=4, temperature=0.0)
    assert answer.strip()
    assert list(llama._input_ids[: len(primed)]) == primed
    prompt = qwen._formatter(messages=QUESTION).prompt
    tokens = llama.tokenize(prompt.encode(), add_bos=False, special=True)
    assert tokens[: len(primed)] == primed
    qwen.prime(QUESTION[:1])  # already in place: nothing is evaluated again
    assert list(llama._input_ids[: len(primed)]) == primed


def test_json_schema_constrains_the_answer(qwen: LlamaCppLLM) -> None:
    schema = {"type": "object", "properties": {
        "algo": {"type": "string", "enum": ["ppo", "sac", "dqn"]},
        "total_steps": {"type": "integer"}}, "required": ["algo", "total_steps"]}
    text = qwen.complete([{"role": "user", "content": "Pick an algorithm for CartPole and a step budget."}],
                         max_tokens=40, temperature=0.0, json_schema=schema)
    data = json.loads(text)
    assert data["algo"] in {"ppo", "sac", "dqn"} and isinstance(data["total_steps"], int)


def test_stop_strings_end_the_answer(qwen: LlamaCppLLM) -> None:
    chat = [{"role": "user", "content": "Count from 1 to 10 separated by commas."}]
    full = qwen.complete(chat, max_tokens=40, temperature=0.0)
    assert "5" in full
    assert qwen.complete(chat, max_tokens=40, temperature=0.0, stop=["5"]) == full[:full.index("5")]


@pytest.fixture(scope="module")
def small_window(real_settings: Settings) -> LlamaCppLLM:
    settings = dataclasses.replace(real_settings, n_ctx=512)
    llm = resolve(None, settings)
    assert isinstance(llm, LlamaCppLLM)
    return llm


def test_budgeted_sources_fit_the_window(small_window: LlamaCppLLM) -> None:
    sources = [f"[{i}] " + "The clipped surrogate objective limits each policy update. " * 60
               for i in range(1, 30)]
    frame = [{"role": "system", "content": "Answer from the numbered sources."},
             {"role": "user", "content": "Question: why clip the ratio?\n\nSources:\n"}]
    budget = prompt_budget(small_window, frame, 64)
    kept = fit_sources(small_window, sources, budget)
    assert 1 <= len(kept) < len(sources)
    chat = [frame[0], {"role": "user", "content": frame[1]["content"] + "\n\n".join(kept)}]
    assert small_window.count_messages(chat) + 64 <= small_window.n_ctx


@pytest.mark.slow  # a full 512-token window of prompt: about 4 s idle, near 20 s on a busy machine
def test_overlong_chat_is_trimmed_instead_of_overflowing(small_window: LlamaCppLLM) -> None:
    history = [{"role": "user", "content": "Earlier question " * 300},
               {"role": "assistant", "content": "Earlier answer " * 300}]
    huge = {"role": "user", "content": "Source text about value functions. " * 3000 + "Summarise."}
    text = small_window.complete(history + [huge], max_tokens=8, temperature=0.0)
    assert isinstance(text, str)  # reaching here means llama.cpp accepted the fitted prompt


def test_text_file_named_gguf_is_one_sentence(tmp_path: Path) -> None:
    fake = tmp_path / "x.gguf"
    fake.write_text("not a model\n")
    with pytest.raises(ModelError) as err:
        resolve(str(fake), Settings(threads=1)).complete([{"role": "user", "content": "hi"}])
    assert "is not a GGUF file" in str(err.value) and one_sentence(str(err.value))


def test_missing_path_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        resolve(str(tmp_path / "missing.gguf"), Settings(threads=1)).count_tokens("hi")
    assert "does not exist" in str(err.value) and one_sentence(str(err.value))


def test_truncated_gguf_is_one_sentence(qwen: LlamaCppLLM, tmp_path: Path) -> None:
    source = qwen.model_path()
    cut = tmp_path / "cut.gguf"
    with open(source, "rb") as src:
        cut.write_bytes(src.read(1 << 20))
    with pytest.raises(ModelError) as err:
        LlamaCppLLM(cut, threads=1).load()
    assert "could not load" in str(err.value) and one_sentence(str(err.value))
