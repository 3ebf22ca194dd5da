"""User-facing errors: one sentence saying what was wrong and what is accepted."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RLCoreError(ValueError):
    """An error caused by user input; its message is a single readable sentence."""


def closest(value: str, accepted: Iterable[str], n: int = 3) -> list[str]:
    """The accepted names most similar to ``value`` (case-insensitive)."""
    accepted = list(accepted)
    lowered = {a.lower(): a for a in accepted}
    hits = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def unknown(what: str, value: str, accepted: Iterable[str], limit: int = 12) -> RLCoreError:
    """Build the standard "unknown X" error naming the bad value and the accepted ones."""
    accepted = sorted(accepted)
    near = closest(value, accepted)
    hint = f" (did you mean {', '.join(repr(x) for x in near)}?)" if near else ""
    shown = ", ".join(accepted[:limit])
    if len(accepted) > limit:
        shown += f" and {len(accepted) - limit} more"
    return RLCoreError(f"Unknown {what} {value!r}{hint}; accepted: {shown}.")
