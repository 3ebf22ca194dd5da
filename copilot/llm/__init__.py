"""Language-model backends behind one interface, and a registry of named models.

Usage::

    from copilot.llm import resolve
    llm = resolve("qwen2.5-coder-0.5b", settings)      # nothing is loaded yet
    for piece in llm.stream([{"role": "user", "content": "What is GAE?"}], max_tokens=64):
        print(piece, end="")

Backend modules (llama.cpp, transformers, HTTP) are imported only when a model needs them.
"""

from copilot.llm.assets import AssetError, WeightAsset, ensure_asset
from copilot.llm.base import (
    LLM,
    Message,
    ModelError,
    answer_budget,
    fit_messages,
    fit_sources,
    prompt_budget,
    truncate_to_tokens,
)
from copilot.llm.registry import (
    DEFAULT_MODEL,
    ModelInfo,
    list_models,
    register_model,
    registered_names,
    resolve,
    unregister_model,
)

__all__ = [
    "DEFAULT_MODEL", "LLM", "AssetError", "Message", "ModelError", "ModelInfo", "WeightAsset",
    "answer_budget", "ensure_asset", "fit_messages", "fit_sources", "list_models",
    "prompt_budget", "register_model", "registered_names", "resolve", "truncate_to_tokens",
    "unregister_model",
]
