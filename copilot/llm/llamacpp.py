"""llama.cpp backend (llama-cpp-python) for local GGUF models.

The constructor only stores; the model is loaded on the first call that needs it. Token
counts are exact: the GGUF's own chat template is rendered and tokenized the same way
``create_chat_completion`` does it. ``json_schema`` is enforced with a GBNF grammar.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from copilot.llm.base import LLM, Message, ModelError

GGUF_MAGIC = b"GGUF"
PathSource = str | Path | Callable[[], Path]


def check_gguf(path: Path) -> Path:
    """``path`` if it is a readable file starting with the GGUF magic, else :class:`ModelError`."""
    if not path.is_file():
        raise ModelError(f"Model file {path} does not exist; pass an existing .gguf file, a "
                         "registered model name (see `python -m copilot models`), hf:DIR or openai:URL.")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"Model file {path} cannot be read ({exc.strerror}).") from None
    if magic != GGUF_MAGIC:
        raise ModelError(f"Model file {path} is not a GGUF file (it does not start with "
                         "'GGUF'); pass a llama.cpp .gguf model.")
    return path


_DONE = object()


class LlamaCppLLM(LLM):
    """A GGUF chat model run by llama.cpp on the CPU.

    ``model`` is a path, or a callable returning one (used to assemble registered weights
    only when the model is first needed).
    """

    constrained_json = True

    def __init__(self, model: PathSource, *, name: str | None = None, n_ctx: int = 4096,
                 threads: int = 1, max_tokens: int = 512, temperature: float = 0.1,
                 n_batch: int = 512) -> None:
        self._source = model
        self.name = name or (Path(model).name if not callable(model) else "gguf")
        self.n_ctx = n_ctx
        self.threads = threads
        self.n_batch = n_batch
        self.default_max_tokens = max_tokens
        self.default_temperature = temperature
        self._llama: Any = None
        self._formatter: Any = None
        self._lock = threading.RLock()

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self) -> Any:
        """Load the model once and return the ``llama_cpp.Llama`` object."""
        with self._lock:
            if self._llama is None:
                self._llama = self._open()
                self._formatter = self._make_formatter(self._llama)
        return self._llama

    def model_path(self) -> Path:
        """The GGUF path (assembling registered weights if that has not happened yet)."""
        return Path(self._source() if callable(self._source) else self._source).expanduser()

    def _open(self) -> Any:
        path = check_gguf(self.model_path())
        # llama.cpp's OpenMP threads spin while waiting by default; on a busy 2-core machine
        # that made prompt processing 2-3x and generation 5x slower (measured). libgomp reads
        # the setting once, when first loaded (torch loads the same libgomp.so.1, so entry
        # points that import torch first should set it earlier); a user's own value wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import llama_cpp
        except ImportError:
            raise ModelError("The llama.cpp backend needs llama-cpp-python; install it with: "
                             "pip install llama-cpp-python==0.3.36.") from None
        try:
            return llama_cpp.Llama(model_path=str(path), n_ctx=self.n_ctx, n_batch=self.n_batch,
                                   n_threads=self.threads, n_threads_batch=self.threads,
                                   verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {path} ({exc}); the file may be "
                             "truncated or of an unsupported architecture.") from None

    @staticmethod
    def _make_formatter(llama: Any) -> Any:
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def text(token_id: int) -> str:
            if token_id < 0:
                return ""
            return llama.detokenize([token_id], special=True).decode("utf-8", errors="replace")

        eos = llama.token_eos()
        return Jinja2ChatFormatter(template=template, eos_token=text(eos),
                                   bos_token=text(llama.token_bos()), stop_token_ids=[eos])

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        llama = self.load()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_messages(self, messages: list[Message]) -> int:
        llama = self.load()
        if self._formatter is None:
            return super().count_messages(messages)
        result = self._formatter(messages=messages)
        return len(llama.tokenize(result.prompt.encode("utf-8"),
                                  add_bos=not result.added_special, special=True))

    def prime(self, prefix: Sequence[Message]) -> None:
        """Evaluate the prompt tokens of ``prefix`` (as they start a chat that continues with a
        user turn) so the next answer starting with them decodes only the rest.

        llama.cpp keeps the last prompt's state and reuses its longest common token prefix, so
        a fixed system message costs its prompt time once instead of on every answer.
        """
        llama = self.load()
        if self._formatter is None:
            return
        mark = "\u2063prefix-end\u2063"
        result = self._formatter(messages=[*prefix, {"role": "user", "content": mark}])
        head = result.prompt.split(mark, 1)[0]
        tokens = llama.tokenize(head.encode("utf-8"), add_bos=not result.added_special, special=True)
        with self._lock:
            if list(llama._input_ids[: len(tokens)]) == tokens:
                return
            llama.reset()
            llama.eval(tokens)

    def grammar(self, json_schema: dict) -> Any:
        """A GBNF grammar enforcing ``json_schema``; refuses schemas llama.cpp cannot convert."""
        from llama_cpp import LlamaGrammar

        try:
            return LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
        except Exception as exc:  # noqa: BLE001 - the converter raises many kinds
            raise ModelError(f"The JSON schema cannot be turned into a llama.cpp grammar ({exc}); "
                             "use plain object, array, string, number, boolean and enum types.") from None

    def _stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
                stop: list[str], json_schema: dict | None) -> Iterator[str]:
        """Decode on a worker thread that owns the model lock for the whole answer.

        The consumer may resume this generator from any thread (web servers do), so the
        lock must never be held across a ``yield`` here; pieces arrive through a queue.
        """
        grammar = self.grammar(json_schema) if json_schema is not None else None
        pieces: queue.Queue = queue.Queue()
        halt = threading.Event()

        def work() -> None:
            try:
                with self._lock:
                    llama = self.load()
                    chunks = llama.create_chat_completion(
                        messages=messages, stream=True, max_tokens=max_tokens,
                        temperature=temperature, stop=stop or None, grammar=grammar)
                    for chunk in chunks:
                        if halt.is_set():
                            break
                        piece = chunk["choices"][0]["delta"].get("content")
                        if piece:
                            pieces.put(piece)
            except ValueError as exc:
                pieces.put(ModelError(f"llama.cpp refused the request ({exc})."))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                pieces.put(exc)
            finally:
                pieces.put(_DONE)

        threading.Thread(target=work, name="llama-decode", daemon=True).start()
        try:
            while (item := pieces.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            halt.set()
