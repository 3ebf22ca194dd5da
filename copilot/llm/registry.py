"""Named language models, and :func:`resolve` from a model spec to a backend.

A spec is one of:

* a registered name (lower case), e.g. ``qwen2.5-coder-0.5b`` (the default);
* a path to a ``.gguf`` file, run by llama.cpp;
* ``hf:DIR``, a local transformers model folder;
* ``openai:URL``, an OpenAI-compatible chat-completions server.

Plugins and tests add models with :func:`register_model`; resolving never loads weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from copilot.config import Settings
from copilot.llm.assets import QWEN_CODER_05B, QWEN_CODER_15B, WeightAsset, asset_status, ensure_asset
from copilot.llm.base import LLM, ModelError, default_threads

Factory = Callable[[Settings], LLM]
StatusFn = Callable[[Settings], str]
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Factory
    size_bytes: int
    description: str
    status: StatusFn | None = None


@dataclass(frozen=True)
class ModelInfo:
    """One row of :func:`list_models`."""

    name: str
    size_bytes: int
    description: str
    status: str  # "available", "needs install" or "assembled"


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, factory: Factory, size_bytes: int = 0, description: str = "",
                   *, status: StatusFn | None = None, replace: bool = False) -> None:
    """Register ``factory(settings) -> LLM`` under a lower-case ``name``.

    ``status(settings)`` reports availability for :func:`list_models`; without it the model
    is listed as ``available``. Re-registering a name needs ``replace=True``.
    """
    if not name or name != name.lower() or ":" in name:
        raise ModelError(f"Model name {name!r} is not accepted; use a lower-case name without ':'.")
    if name in _MODELS and not replace:
        raise ModelError(f"Model name {name!r} is already registered; pass replace=True to override it.")
    _MODELS[name] = ModelEntry(name, factory, int(size_bytes), description, status)


def unregister_model(name: str) -> None:
    """Remove a registered model (tests use this to clean up their fakes)."""
    _MODELS.pop(name, None)


def registered_names() -> list[str]:
    return sorted(_MODELS)


def list_models(settings: Settings) -> list[ModelInfo]:
    """Every registered model with its size, description and status."""
    rows = []
    for entry in sorted(_MODELS.values(), key=lambda e: e.name):
        status = entry.status(settings) if entry.status else "available"
        rows.append(ModelInfo(entry.name, entry.size_bytes, entry.description, status))
    return rows


def resolve(spec: str | None, settings: Settings) -> LLM:
    """The backend for ``spec`` (``settings.model`` when None); nothing is loaded yet."""
    spec = (spec if spec is not None else settings.model).strip()
    threads = default_threads(settings.threads)
    common = dict(n_ctx=settings.n_ctx, max_tokens=settings.max_tokens,
                  temperature=settings.temperature)
    if spec.lower() in _MODELS:
        return _MODELS[spec.lower()].factory(settings)
    if spec.startswith("hf:"):
        from copilot.llm.hf import HFLLM

        return HFLLM(spec[3:], threads=threads, **common)
    if spec.startswith("openai:"):
        from copilot.llm.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM(spec[7:], api_key=settings.api_key, **common)
    if spec.lower().endswith(".gguf") or Path(spec).expanduser().is_file():
        from copilot.llm.llamacpp import LlamaCppLLM

        return LlamaCppLLM(Path(spec).expanduser(), threads=threads, **common)
    raise ModelError(f"Model {spec!r} is not known; accepted: a registered name "
                     f"({', '.join(registered_names()) or 'none'}), a path to a .gguf file, "
                     "hf:DIR or openai:URL.")


def _asset_model(name: str, asset: WeightAsset, description: str) -> None:
    def factory(settings: Settings) -> LLM:
        from copilot.llm.llamacpp import LlamaCppLLM

        return LlamaCppLLM(lambda: ensure_asset(asset, settings.models_dir), name=name,
                           threads=default_threads(settings.threads), n_ctx=settings.n_ctx,
                           max_tokens=settings.max_tokens, temperature=settings.temperature)

    register_model(name, factory, asset.size_bytes, description,
                   status=lambda settings: asset_status(asset, settings.models_dir))


_asset_model(DEFAULT_MODEL, QWEN_CODER_05B,
             "Qwen2.5-Coder-0.5B-Instruct GGUF via llama.cpp; the default, about 25 tokens/s on 2 cores.")
_asset_model("qwen2.5-coder-1.5b", QWEN_CODER_15B,
             "Qwen2.5-Coder-1.5B-Instruct GGUF via llama.cpp; better answers, about half the speed.")
