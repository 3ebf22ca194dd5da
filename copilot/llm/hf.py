"""Backend for a local transformers model folder (``hf:DIR``), fully offline.

The folder must hold a causal-LM config, weights and a tokenizer. The tokenizer's chat
template formats the messages (a plain ``role: text`` layout is used when it has none);
the answer streams through ``TextIteratorStreamer`` from a generation thread. transformers
has no grammar-constrained decoding, so ``json_schema`` is written into the prompt and
``constrained_json`` is False: callers must validate the JSON they get back.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from copilot.llm.base import LLM, Message, ModelError, cut_at_stop

PLAIN_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                  "{% if add_generation_prompt %}assistant: {% endif %}")


def offline_env() -> None:
    """Forbid hub downloads for everything transformers does in this process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def schema_instruction(json_schema: dict) -> str:
    return ("Answer with one JSON value only, no prose and no code fences, matching this "
            f"JSON schema:\n{json.dumps(json_schema)}")


class HFLLM(LLM):
    """A transformers causal LM loaded from a local folder on the CPU."""

    constrained_json = False

    def __init__(self, folder: str | Path, *, n_ctx: int = 4096, threads: int = 1,
                 max_tokens: int = 512, temperature: float = 0.1) -> None:
        self.folder = Path(folder).expanduser()
        self.name = f"hf:{folder}"
        self._n_ctx = n_ctx
        self.threads = threads
        self.default_max_tokens = max_tokens
        self.default_temperature = temperature
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def n_ctx(self) -> int:  # type: ignore[override]
        """The configured window, capped by the model's position limit in config.json."""
        try:
            config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self._n_ctx
        limit = config.get("max_position_embeddings") or config.get("n_positions")
        return min(self._n_ctx, int(limit)) if limit else self._n_ctx

    def load(self) -> tuple[Any, Any]:
        """Load tokenizer and model once; returns ``(model, tokenizer)``."""
        with self._lock:
            if self._model is None:
                self._tokenizer, self._model = self._open()
        return self._model, self._tokenizer

    def _open(self) -> tuple[Any, Any]:
        if not (self.folder / "config.json").is_file():
            raise ModelError(f"Folder {self.folder} is not a transformers model (no config.json); "
                             "pass hf:DIR with a folder saved by save_pretrained().")
        offline_env()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(self.folder, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"transformers could not load {self.folder} ({first}).") from None
        if not tokenizer.chat_template:
            tokenizer.chat_template = PLAIN_TEMPLATE
        import torch

        torch.set_num_threads(self.threads)  # process-wide, as torch offers no per-model setting
        model.eval()
        return tokenizer, model

    def count_tokens(self, text: str) -> int:
        _, tokenizer = self.load()
        return len(tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def _prompt_ids(self, messages: list[Message]) -> list[int]:
        _, tokenizer = self.load()
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer.encode(text, add_special_tokens=False)

    def count_messages(self, messages: list[Message]) -> int:
        return len(self._prompt_ids(messages))

    def prepare(self, messages: list[Message], json_schema: dict | None) -> list[Message]:
        if json_schema is None:
            return messages
        return with_instruction(messages, schema_instruction(json_schema))

    def _stream(self, messages: list[Message], *, max_tokens: int, temperature: float,
                stop: list[str], json_schema: dict | None) -> Iterator[str]:
        yield from cut_at_stop(self._generate(messages, max_tokens, temperature), stop)

    def _generate(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self.load()
        ids = torch.tensor([self._prompt_ids(messages)])
        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else \
            {"do_sample": False}
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                      streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                      pad_token_id=pad, **sampling)
        errors: list[BaseException] = []
        worker = threading.Thread(target=self._run_generate, args=(model, kwargs, errors, streamer),
                                  daemon=True)
        worker.start()
        try:
            yield from (piece for piece in streamer if piece)
        finally:
            cancel.set()
            worker.join()
        if errors:
            raise ModelError(f"transformers generation failed ({errors[0]}).")

    @staticmethod
    def _run_generate(model: Any, kwargs: dict, errors: list, streamer: Any) -> None:
        import torch

        try:
            with torch.no_grad():
                model.generate(**kwargs)
        except Exception as exc:  # noqa: BLE001 - reported to the consumer thread
            errors.append(exc)
            streamer.end()


def with_instruction(messages: list[Message], instruction: str) -> list[Message]:
    """``messages`` with ``instruction`` appended to the leading system message (or a new one)."""
    if messages and messages[0]["role"] == "system":
        head = {"role": "system", "content": messages[0]["content"] + "\n\n" + instruction}
        return [head, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
