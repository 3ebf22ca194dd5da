"""Copilot settings, resolved in order: defaults < config file < COPILOT_* environment < flags.

The config file is TOML with the same keys as :class:`Settings`; it is read from
``$COPILOT_CONFIG`` if set, else ``./copilot.toml``, else ``~/.config/rl-copilot/config.toml``.
Environment variables are the upper-cased field names with a ``COPILOT_`` prefix, e.g.
``COPILOT_MODEL=qwen2.5-coder-1.5b`` or ``COPILOT_K=8``. Shared services for several
machines or users: ``COPILOT_CHROMA_URL=http://host:8001`` (one index in a Chroma server) and
``COPILOT_MODEL=openai:http://host:8000/v1`` (one model in an OpenAI-compatible server).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A bad setting; the message is one sentence naming the value and what is accepted."""


def _default_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rl-copilot"


@dataclass
class Settings:
    """Every copilot setting with its default."""

    home: Path = field(default_factory=_default_home)  # index, assembled models, runs
    model: str = "qwen2.5-coder-0.5b"  # registry name, path to .gguf, hf:DIR or openai:URL
    embedder: str = "all-minilm-l6-v2"  # registry name, sentence-transformers folder, instructor:DIR
    corpus: list[str] = field(default_factory=lambda: [str(REPO_ROOT / "corpus")])
    k: int = 5  # sources retrieved per question
    n_ctx: int = 4096  # model context window in tokens
    max_tokens: int = 384  # answer length cap in tokens
    context_tokens: int = 350  # prompt tokens spent on retrieved sources (~2 s of prompt processing here)
    temperature: float = 0.0  # greedy: the same question over the same index gives the same answer
    threads: int = 0  # LLM threads; 0 means all cores
    api_key: str = ""  # for openai:URL backends
    auth: str = ""  # "user:password" for the web UI (read by app.py); empty: a random token in the start-up URL
    chroma_url: str = ""  # http://HOST:PORT of a shared Chroma server holding the index; empty: index_dir
    ingest_roots: list[str] = field(default_factory=list)  # folders the UI may ingest; empty: home/imports + corpus

    @property
    def index_dir(self) -> Path:
        """The index folder. With ``chroma_url`` it is ``home/index-servers/HOST_PORT``, bound to
        that server (the store of record), and keeps only the writer lock and caches itself."""
        if not self.chroma_url:
            return Path(self.home) / "index"
        from copilot.generations import bind_server, parse_server_url

        host, port, _ = parse_server_url(self.chroma_url)
        path = Path(self.home) / "index-servers" / f"{host}_{port}"
        bind_server(path, self.chroma_url)
        return path

    @property
    def models_dir(self) -> Path:
        return Path(self.home) / "models"

    @property
    def runs_dir(self) -> Path:
        return Path(self.home) / "runs"

    @property
    def imports_dir(self) -> Path:
        return Path(self.home) / "imports"

    def allowed_ingest_roots(self) -> list[Path]:
        """Folders under which the web UI may ingest server files (resolved)."""
        roots = self.ingest_roots or [str(self.imports_dir), *self.corpus]
        return [Path(os.path.expanduser(r)).resolve() for r in roots]


def parse_auth(value: str) -> tuple[str, str]:
    """``"user:password"`` -> ``(user, password)``; both parts must be non-empty."""
    user, sep, password = (value or "").partition(":")
    if not sep or not user.strip() or not password:
        shown = "an empty value" if not value else ("a value without ':'" if not sep else
                                                    "an empty user" if not user.strip() else "an empty password")
        raise ConfigError(f"The web UI's auth setting got {shown}; it must look like user:password with "
                          "both parts non-empty.")
    return user, password


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    kind_s = str(kind)
    try:
        if kind_s in ("int", "<class 'int'>"):
            return int(raw)
        if kind_s in ("float", "<class 'float'>"):
            return float(raw)
        if "list" in kind_s:
            if isinstance(raw, str):
                return [p for p in raw.split(os.pathsep) if p]
            return [str(p) for p in raw]
        if "Path" in kind_s:
            return Path(os.path.expanduser(str(raw)))
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting {name!r} got {raw!r}, which is not a valid {kind_s.strip('<>')}.") from None


def config_file() -> Path | None:
    """The config file in effect, if any."""
    candidates = [os.environ.get("COPILOT_CONFIG"), "copilot.toml",
                  str(Path.home() / ".config" / "rl-copilot" / "config.toml")]
    for cand in candidates:
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def load_settings(overrides: Mapping[str, Any] | None = None, *, use_env: bool = True,
                  use_file: bool = True) -> Settings:
    """Resolve settings: defaults < config file < COPILOT_* environment < ``overrides``.

    ``overrides`` holds flag values; ``None`` values are ignored so unset flags fall through.
    """
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file() if use_file else None
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {path} is not valid TOML ({exc}).") from None
        for key, val in data.items():
            if key not in fields:
                raise ConfigError(f"Config file {path} has unknown key {key!r}; accepted: "
                                  f"{', '.join(sorted(fields))}.")
            values[key] = val
    if use_env:
        for name in fields:
            env = os.environ.get(f"COPILOT_{name.upper()}")
            if env is not None and env != "":
                values[name] = env
    for key, val in (overrides or {}).items():
        if val is None:
            continue
        if key not in fields:
            raise ConfigError(f"Unknown setting {key!r}; accepted: {', '.join(sorted(fields))}.")
        values[key] = val
    coerced = {k: _coerce(k, v, fields[k].type) for k, v in values.items()}
    settings = Settings(**coerced)
    if settings.k < 1 or settings.n_ctx < 512 or settings.max_tokens < 1:
        raise ConfigError(f"Settings out of range (k={settings.k}, n_ctx={settings.n_ctx}, "
                          f"max_tokens={settings.max_tokens}); need k>=1, n_ctx>=512, max_tokens>=1.")
    if settings.auth:
        parse_auth(settings.auth)
    if settings.chroma_url:
        from copilot.generations import parse_server_url

        try:
            parse_server_url(settings.chroma_url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return settings
