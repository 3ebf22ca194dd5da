"""What every browser session shares: settings, the one language model and the search index.

:class:`ModelHolder` owns the single model instance. Switching loads the new model first and
swaps it in only when loading worked, so a model that fails to load leaves the previous one
answering. :class:`Services` loads the model and opens (or first builds) the index in
background threads, so the page is up before either is ready and can show their progress.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from copilot.config import Settings
from copilot.llm import LLM, ModelError, resolve

Resolver = Callable[[str, Settings], LLM]


def one_sentence(exc: BaseException) -> str:
    """A user-facing sentence for ``exc``: our own errors already are one; others get named."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError | ModelError | OSError) and text:
        return text if text.endswith((".", "!", "?")) else text + "."
    return f"{type(exc).__name__}: {text or 'no message'}."


def load_now(llm: LLM) -> None:
    """Force a backend to load its weights (backends load lazily on first use) and evaluate
    the chat's fixed system message, so the first question pays only for its own prompt."""
    from copilot.chat import prime_chat

    loader = getattr(llm, "load", None)
    if callable(loader):
        loader()
    prime_chat(llm)


class ModelHolder:
    """The one shared model; thread-safe switching that keeps the old model on failure.

    Args:
        settings: resolved settings (``settings.model`` is the first model to load).
        resolver: ``resolver(spec, settings) -> LLM``; the registry's :func:`resolve` by default.
    """

    def __init__(self, settings: Settings, resolver: Resolver = resolve) -> None:
        self.settings = settings
        self._resolver = resolver
        self._llm: LLM | None = None
        self._spec: str | None = None
        self._lock = threading.Lock()  # guards the (llm, spec) pair
        self._switching = threading.Lock()  # one load at a time
        self._ready = threading.Event()
        self.loading: str | None = None  # spec being loaded right now
        self.loading_since = 0.0
        self.error = ""  # the last load failure, one sentence
        self.load_seconds: float | None = None

    @property
    def spec(self) -> str | None:
        return self._spec

    @property
    def ready(self) -> bool:
        return self._llm is not None

    def get(self, timeout: float | None = None) -> LLM:
        """The active model, waiting up to ``timeout`` seconds for the first one to load."""
        self._ready.wait(timeout)
        with self._lock:
            llm = self._llm
        if llm is None:
            reason = self.error or "the model is still loading"
            raise ModelError(f"No model is available yet ({reason.rstrip('.')}); "
                             "wait for it or pick another one on the Models tab.")
        return llm

    def switch(self, spec: str) -> LLM:
        """Load ``spec`` and make it the active model; on failure keep the current one.

        Raises :class:`ModelError` with one sentence when the model cannot be loaded.
        """
        spec = (spec or "").strip()
        if not spec:
            raise ModelError("No model was given; pick a registered name, a .gguf path, hf:DIR or "
                             "openai:URL.")
        with self._switching:
            self.loading, self.loading_since = spec, time.monotonic()
            try:
                llm = self._resolver(spec, self.settings)
                load_now(llm)
            except Exception as exc:  # noqa: BLE001 - every failure must keep the old model
                self.error = one_sentence(exc) if isinstance(exc, ModelError) else \
                    f"Model {spec!r} could not be loaded ({one_sentence(exc).rstrip('.')})."
                if self._llm is None:
                    self._ready.set()  # nothing to wait for: get() reports the error
                raise ModelError(self.error) from None
            finally:
                elapsed = time.monotonic() - self.loading_since
                self.loading = None
            with self._lock:
                self._llm, self._spec = llm, spec
            self.error, self.load_seconds = "", round(elapsed, 2)
            self._ready.set()
            return llm

    def describe(self) -> str:
        """One line for the page header."""
        if self.loading:
            waited = time.monotonic() - self.loading_since
            return f"loading {self.loading} ({waited:.0f} s)"
        if self._spec:
            return f"{self._spec} ready"
        return f"failed: {self.error}" if self.error else "not loaded"


class Services:
    """Settings, the shared model and the shared index, started in the background.

    Args:
        settings: resolved settings.
        resolver: passed to :class:`ModelHolder`.
        build_index: build the index at start when it is missing (the product does).
    """

    def __init__(self, settings: Settings, resolver: Resolver = resolve, build_index: bool = True) -> None:
        self.settings = settings
        self.models = ModelHolder(settings, resolver)
        self.build_index = build_index
        self._index: Any = None
        self._index_ready = threading.Event()
        self._index_lock = threading.Lock()
        self.index_state = "waiting"  # waiting | building | opening | ready | failed
        self.index_error = ""
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Load the model and open the index in background threads; returns at once."""
        for target, name in ((self._start_model, "copilot-model"), (self._start_index, "copilot-index")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background start; True when both threads finished."""
        end = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def _start_model(self) -> None:
        try:
            self.models.switch(self.settings.model)
        except ModelError:
            pass  # kept in self.models.error and shown in the header

    def _start_index(self) -> None:
        from copilot.ingest import index_state, ingest

        try:
            if index_state(self.settings) != "ready" and self.build_index:  # missing, or read by older code
                self.index_state = "building"
                ingest(None, self.settings, progress=True)
            self.index_state = "opening"
            self.reopen_index()
        except Exception as exc:  # noqa: BLE001 - shown on the page instead of crashing it
            self.index_state, self.index_error = "failed", one_sentence(exc)
            self._index_ready.set()

    def reopen_index(self) -> Any:
        """Open the index afresh (after a re-ingest) and make it the shared one."""
        from copilot.index import Index

        index = Index.open(self.settings)
        index.search("warm up the embedder", k=1)  # the first query loads the embedder: pay it now
        return self.set_index(index)

    def set_index(self, index: Any) -> Any:
        """Make ``index`` (anything with ``search(query, k, kinds)``) the shared index."""
        with self._index_lock:
            self._index = index
        self.index_state, self.index_error = "ready", ""
        self._index_ready.set()
        return index

    def index(self, timeout: float | None = None) -> Any:
        """The shared index, waiting up to ``timeout`` seconds for it to open."""
        from copilot.index import SearchError

        self._index_ready.wait(timeout)
        with self._index_lock:
            index = self._index
        if index is None:
            reason = self.index_error or f"the index is {self.index_state}"
            raise SearchError(f"The search index is not available ({reason.rstrip('.')}); "
                              "wait for it or re-ingest on the Models tab.")
        return index

    def status_line(self) -> str:
        """The page header: model and index state."""
        index = {"waiting": "index: waiting", "building": "index: building (first run only)",
                 "opening": "index: opening", "ready": "index: ready",
                 "failed": f"index: failed: {self.index_error}"}[self.index_state]
        return f"model: {self.models.describe()} · {index}"

    @property
    def ready(self) -> bool:
        return self.models.ready and self.index_state == "ready" and self.models.loading is None
