"""User-facing errors: one sentence saying what was wrong and what is accepted."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


class RLCoreError(ValueError):
    """An error caused by user input; its message is a single readable sentence."""


def closest(value: str, accepted: Iterable[str], n: int = 3,
            synonyms: Mapping[str, tuple[str, ...]] | None = None) -> list[str]:
    """The accepted names most similar to ``value`` (case-insensitive); ``synonyms``: what a
    name means elsewhere ("learning_rate" -> "lr"), put before the names that merely look alike."""
    accepted = list(accepted)
    lowered = {a.lower(): a for a in accepted}
    meant = [a for a in (synonyms or {}).get(value.lower(), ()) if a in accepted]
    hits = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.5)
    return list(dict.fromkeys(meant + [lowered[h] for h in hits]))[:n]


def unknown(what: str, value: str, accepted: Iterable[str], limit: int = 12,
            synonyms: Mapping[str, tuple[str, ...]] | None = None) -> RLCoreError:
    """Build the standard "unknown X" error naming the bad value and the accepted ones
    (``synonyms``: see :func:`closest`)."""
    accepted = sorted(accepted)
    near = closest(value, accepted, synonyms=synonyms)
    hint = f" (did you mean {', '.join(repr(x) for x in near)}?)" if near else ""
    shown = ", ".join(accepted[:limit])
    if len(accepted) > limit:
        shown += f" and {len(accepted) - limit} more"
    return RLCoreError(f"Unknown {what} {value!r}{hint}; accepted: {shown}.")
