"""The shared model holder and services: switching, keeping the old model on failure, waiting."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from copilot.config import Settings
from copilot.index import SearchError
from copilot.llm import LLM, ModelError
from copilot.ui.services import ModelHolder, Services, one_sentence
from fake_llm import FakeLLM as SharedFakeLLM


def FakeLLM(name: str, load_s: float = 0.0) -> SharedFakeLLM:  # noqa: N802 - stands where a class stood
    """A model that counts loads and answers its own name; isolates the holder from real weights."""
    return SharedFakeLLM(name=name, load_s=load_s, tokens="words")


def resolver(spec: str, settings: Settings) -> LLM:
    if spec.startswith("bad"):
        raise ModelError(f"Model file {spec} is not a GGUF file (it does not start with 'GGUF'); pass a "
                         "llama.cpp .gguf model.")
    if spec == "crash":
        raise RuntimeError("boom")
    return FakeLLM(spec, load_s=0.05 if spec == "slow" else 0.0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, model="first")


def test_switch_loads_and_activates(settings):
    holder = ModelHolder(settings, resolver)
    llm = holder.switch("first")
    assert holder.get(0) is llm and llm.loads == 1
    assert holder.spec == "first" and holder.describe() == "first ready"
    assert holder.load_seconds is not None and holder.error == ""


def test_failed_switch_keeps_the_previous_model(settings):
    holder = ModelHolder(settings, resolver)
    first = holder.switch("first")
    with pytest.raises(ModelError) as info:
        holder.switch("bad.gguf")
    message = str(info.value)
    assert message.startswith("Model file bad.gguf is not a GGUF file") and message.count(". ") == 0
    assert holder.get(0) is first and holder.spec == "first"
    with pytest.raises(ModelError, match=r"^Model 'crash' could not be loaded \(RuntimeError: boom\)\.$"):
        holder.switch("crash")
    assert holder.get(0) is first


def test_get_without_any_model_explains_why(settings):
    holder = ModelHolder(settings, resolver)
    with pytest.raises(ModelError, match="still loading"):
        holder.get(0)
    with pytest.raises(ModelError):
        holder.switch("bad.gguf")
    t0 = time.monotonic()
    with pytest.raises(ModelError, match="not a GGUF file"):
        holder.get(5)  # the failed first load wakes waiters at once
    assert time.monotonic() - t0 < 1
    with pytest.raises(ModelError, match="No model was given"):
        holder.switch("  ")


def test_readers_always_see_a_loaded_model_while_switching(settings):
    holder = ModelHolder(settings, resolver)
    holder.switch("first")
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            llm = holder.get(0)
            assert llm.loads == 1
            seen.add(llm.name)

    reader = threading.Thread(target=read)
    reader.start()
    for spec in ("slow", "bad.gguf", "slow", "first"):
        try:
            holder.switch(spec)
        except ModelError:
            pass
    stop.set()
    reader.join()
    assert seen <= {"first", "slow"} and "slow" in seen
    assert holder.spec == "first"


def test_describe_while_loading(settings):
    holder = ModelHolder(settings, lambda spec, s: FakeLLM(spec, load_s=0.3))
    thread = threading.Thread(target=holder.switch, args=("big",))
    thread.start()
    time.sleep(0.1)
    assert holder.describe().startswith("loading big")
    thread.join()
    assert holder.describe() == "big ready"


def test_services_index_waits_and_reports(settings):
    services = Services(settings, resolver, build_index=False)
    with pytest.raises(SearchError, match="index is waiting"):
        services.index(0)
    marker = object()
    threading.Timer(0.1, services.set_index, args=(marker,)).start()
    assert services.index(5) is marker
    assert "index: ready" in services.status_line()


def test_services_start_without_index_reports_it(settings):
    services = Services(settings, resolver, build_index=False)
    services.start()
    assert services.wait(30)
    assert services.models.spec == "first"
    assert services.index_state == "failed" and "No index found" in services.index_error
    assert not services.ready
    with pytest.raises(SearchError, match="not available"):
        services.index(0)


def test_one_sentence():
    assert one_sentence(ValueError("k must be at least 1, got 0")) == "k must be at least 1, got 0."
    assert one_sentence(KeyError("x")) == "KeyError: 'x'."
    assert one_sentence(RuntimeError("")) == "RuntimeError: no message."
