"""The API reference: one piece per public class, method and function of a package.

The package is imported and its modules walked with :mod:`pkgutil`. A module that fails to
import is skipped with a warning (its earlier reference is kept in the index). Private
modules (a name part starting with ``_``) and ``__main__`` are never imported. Ingest runs
this in a child Python (:func:`api_reference_isolated`), so each ingest sees the package's
current files and an import that crashes or exits cannot stop the ingest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.machinery
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from copilot.chunking import Piece

FORMAT = "2"  # part of the package fingerprint: bump it when the pieces built here change


@dataclass
class ApiReference:
    """Pieces per module name, plus the modules that could not be imported."""

    package: str
    modules: dict[str, list[Piece]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    imported: bool = True


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__) if isinstance(getattr(obj, "__doc__", None), str) else ""


def _member_function(raw: object) -> object | None:
    """The function behind a class attribute, for methods, static/class methods and properties."""
    if isinstance(raw, (staticmethod, classmethod)):
        return raw.__func__
    if isinstance(raw, property):
        return raw.fget
    if inspect.isfunction(raw):
        return raw
    return None


def summary(doc: str) -> str:
    """The first sentence of a docstring (at most 120 characters), used in titles."""
    first = " ".join(doc.strip().split("\n\n", 1)[0].split())
    match = re.match(r"(.+?[.!?])(\s|$)", first)
    text = match.group(1) if match else first
    return text if len(text) <= 120 else text[:117].rsplit(" ", 1)[0] + "..."


def has_real_doc(doc: str) -> bool:
    """Whether a docstring says something: at least three words (blank stubs do not)."""
    return len(re.findall(r"[A-Za-z]{2,}", doc)) >= 3


def _piece(dotted: str, kind: str, signature: str, doc: str, extra: str = "") -> Piece:
    short = dotted.rsplit(".", 1)[-1]
    lines = [f"{dotted} ({kind})", f"{short}{signature}"]
    if doc:
        lines += ["", doc]
    if extra:
        lines += ["", extra]
    title = f"{dotted}: {summary(doc)}" if doc else dotted
    return Piece(title, short, "\n".join(lines), dotted)


def _field_lines(cls: type) -> str:
    """``- name (type, default X): description`` for each dataclass field that has a ``doc``."""
    if not dataclasses.is_dataclass(cls):
        return ""
    lines = []
    for f in dataclasses.fields(cls):
        text = f.metadata.get("doc") if f.metadata else None
        if not text:
            continue
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        shown = f", default {f.default!r}" if f.default is not dataclasses.MISSING else ""
        lines.append(f"- {f.name} ({kind}{shown}): {text}")
    return "Fields:\n" + "\n".join(lines) if lines else ""


def _class_pieces(cls: type, dotted: str) -> list[Piece]:
    """The class (when documented) and each documented public method; stubs are left out."""
    methods: list[tuple[str, object, str]] = []
    for attr, raw in vars(cls).items():
        func = _member_function(raw)
        if attr.startswith("_") and attr != "__init__" or func is None:
            continue
        kind = "property" if isinstance(raw, property) else "method"
        methods.append((attr, func, kind))
    public = [name for name, _, _ in methods if not name.startswith("_")]
    fields = _field_lines(cls)
    listed = f"Methods: {', '.join(public)}" if public else ""
    extra = "\n\n".join(part for part in (fields, listed) if part)
    pieces: list[Piece] = []
    doc = _doc(cls)
    if has_real_doc(doc) or fields:
        pieces.append(_piece(dotted, "config dataclass" if fields else "class", _signature(cls), doc, extra))
    for attr, func, kind in methods:
        method_doc = _doc(func)
        if attr == "__init__" or not has_real_doc(method_doc):
            continue
        sig = "" if kind == "property" else _signature(func)
        pieces.append(_piece(f"{dotted}.{attr}", kind, sig, method_doc))
    return pieces


def module_pieces(module: ModuleType) -> list[Piece]:
    """Pieces for the public classes and functions defined in ``module`` itself."""
    pieces: list[Piece] = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        dotted = f"{module.__name__}.{name}"
        if inspect.isclass(obj):
            pieces.extend(_class_pieces(obj, dotted))
        elif inspect.isfunction(obj) and has_real_doc(_doc(obj)):
            pieces.append(_piece(dotted, "function", _signature(obj), _doc(obj)))
    return pieces


def _module_names(package: ModuleType) -> list[str]:
    names = [package.__name__]
    path = getattr(package, "__path__", None)
    if path is None:
        return names
    for info in pkgutil.walk_packages(path, prefix=package.__name__ + ".", onerror=lambda _n: None):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]):
            continue
        names.append(info.name)
    return sorted(set(names))


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip this module
        warnings.warn(f"API reference skips {name} because it failed to import ({type(exc).__name__}: "
                      f"{exc}).", stacklevel=2)
        return None


def api_reference(package: str = "rlcore") -> ApiReference:
    """Walk ``package`` and build one piece per public symbol, grouped by module."""
    ref = ApiReference(package)
    root = _import(package)
    if root is None:
        ref.imported = False
        return ref
    for name in _module_names(root):
        module = root if name == package else _import(name)
        if module is None:
            ref.failed.append(name)
            continue
        ref.modules[name] = module_pieces(module)
    return ref


def package_fingerprint(package: str) -> str | None:
    """A hash of every ``.py`` file of a package (and of :data:`FORMAT`), found without importing it.

    An index whose recorded fingerprint differs rebuilds its API reference on the next ingest.
    """
    spec = importlib.machinery.PathFinder.find_spec(package, sys.path)
    if spec is None or not spec.submodule_search_locations:
        return None
    digest = hashlib.sha256(f"apiref {FORMAT}\0".encode())
    for root in map(Path, spec.submodule_search_locations):
        for file in sorted(root.rglob("*.py")):
            if "__pycache__" not in file.parts:
                digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def api_reference_isolated(package: str = "rlcore", timeout: float = 600.0) -> ApiReference:
    """:func:`api_reference` computed in a child Python that sees the same ``sys.path``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "api.json")
        try:
            proc = subprocess.run([sys.executable, "-m", "copilot.apiref", package, out], env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc = None
        if proc is None or proc.returncode != 0 or not os.path.isfile(out):
            reason = "timed out" if proc is None else (proc.stderr.strip().splitlines() or ["no output"])[-1]
            warnings.warn(f"API reference of {package} was not built ({reason}).", stacklevel=2)
            return ApiReference(package, imported=False)
        with open(out, encoding="utf-8") as fh:
            data = json.load(fh)
    for message in data["warnings"]:
        warnings.warn(message, stacklevel=2)
    modules = {name: [Piece(*fields) for fields in pieces] for name, pieces in data["modules"].items()}
    return ApiReference(package, modules, data["failed"], data["imported"])


def _main(package: str, out: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = api_reference(package)
    data = {"modules": {m: [[p.title, p.heading, p.text, p.symbol] for p in pieces]
                        for m, pieces in ref.modules.items()},
            "failed": ref.failed, "imported": ref.imported,
            "warnings": [str(w.message) for w in caught if "API reference" in str(w.message)]}
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
