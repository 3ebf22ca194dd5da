"""Search-space specs: ``name=log:LO:HI``, ``name=float:LO:HI``, ``name=int:LO:HI``, ``name=choice:a,b,c``.

:func:`parse_param` turns one ``--param`` string into a :class:`Param`; :func:`check_params`
refuses a name that is not a config field of the algorithm (naming the accepted fields) and a
range whose values the config cannot take; :meth:`Param.suggest` asks an Optuna trial for a value.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from rlcore.config import unknown_field
from rlcore.errors import RLCoreError

KINDS = ("log", "float", "int", "choice")
FORMS = "name=log:LO:HI, name=float:LO:HI, name=int:LO:HI or name=choice:a,b,c"


@dataclass(frozen=True)
class Param:
    """One searched config field: ``kind`` in :data:`KINDS`; ``low``/``high`` or ``choices``."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple = ()

    def suggest(self, trial: Any) -> Any:
        if self.kind == "log":
            return trial.suggest_float(self.name, self.low, self.high, log=True)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high)
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high)
        return trial.suggest_categorical(self.name, list(self.choices))

    def text(self) -> str:
        """The spec string this param was parsed from (normalised)."""
        if self.kind == "choice":
            return f"{self.name}=choice:{','.join(str(c) for c in self.choices)}"
        return f"{self.name}={self.kind}:{self.low:g}:{self.high:g}"


def _bad(spec: str, why: str) -> RLCoreError:
    return RLCoreError(f"--param {spec!r} {why}; accepted forms: {FORMS}.")


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            pass
    return text.strip()


def parse_param(spec: str) -> Param:
    """One ``--param`` string -> :class:`Param`; a malformed one is refused in one sentence."""
    name, sep, rest = str(spec).partition("=")
    name = name.strip()
    if not sep or not name or not name.isidentifier():
        raise _bad(spec, "does not start with a field name and '='")
    kind, sep, body = rest.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS or not sep:
        raise _bad(spec, f"has no known kind (got {kind or 'nothing'!r})")
    if kind == "choice":
        choices = tuple(_value(c) for c in body.split(",") if c.strip())
        if len(choices) < 2 or len(set(map(str, choices))) != len(choices):
            raise _bad(spec, "needs at least two distinct choices")
        return Param(name, kind, choices=choices)
    bounds = body.split(":")
    try:
        if len(bounds) != 2:
            raise ValueError
        low, high = (int(b) for b in bounds) if kind == "int" else (float(b) for b in bounds)
    except ValueError:
        number = "integers" if kind == "int" else "numbers"
        raise _bad(spec, f"needs two {number} LO:HI after {kind}:") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise _bad(spec, "needs LO < HI (finite)")
    if kind == "log" and low <= 0:
        raise _bad(spec, "needs LO > 0 on a log scale")
    return Param(name, kind, low, high)


def parse_params(specs: list[str]) -> list[Param]:
    params = [parse_param(s) for s in specs]
    if not params:
        raise RLCoreError(f"No --param given; accepted forms: {FORMS} (e.g. --param lr=log:1e-5:1e-2).")
    names = [p.name for p in params]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise RLCoreError(f"--param {dup!r} is given twice; accepted: each field once.")
    return params


def _kind(hints: dict, name: str) -> str:
    hint = hints.get(name)
    return (hint if isinstance(hint, str) else getattr(hint, "__name__", str(hint))).replace("typing.", "")


def check_params(algo: str, params: list[Param], fixed: dict[str, Any] | None = None) -> None:
    """Refuse fields ``algo``'s config lacks and ranges its field types cannot hold."""
    from rlcore.registry import get

    cls = get("agents", algo).Config
    fields = {f.name for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for p in params:
        if p.name not in fields:
            raise unknown_field(algo, p.name, fields)
        kind = _kind(hints, p.name)
        if kind.startswith("int") and p.kind in ("log", "float"):
            raise RLCoreError(
                f"--param {p.text()!r} searches floats but {p.name} is an integer field; accepted: "
                f"{p.name}=int:LO:HI or {p.name}=choice:a,b,c."
            )
        if kind.startswith(("bool", "str", "tuple")) and p.kind != "choice":
            raise RLCoreError(
                f"--param {p.text()!r} searches a range but {p.name} is a {kind} field; accepted: "
                f"{p.name}=choice:a,b,c."
            )
    clash = [p.name for p in params if p.name in (fixed or {})]
    if clash:
        raise RLCoreError(
            f"{clash[0]} is both searched (--param) and fixed (--set); accepted: one of the two."
        )
