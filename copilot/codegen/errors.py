"""The one user-facing error type of code generation."""

from __future__ import annotations


class CodegenError(ValueError):
    """A request, spec or script that cannot be used as given; the message is one sentence
    naming the bad value and what is accepted."""


class Impossible(CodegenError):
    """A request that cannot be done as asked (unknown env, wrong action space, budget);
    repairing the code cannot fix it, so generation stops with this one sentence."""
