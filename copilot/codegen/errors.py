"""The one user-facing error type of code generation."""

from __future__ import annotations


class CodegenError(ValueError):
    """A request, spec or script that cannot be used as given; the message is one sentence
    naming the bad value and what is accepted."""


class Impossible(CodegenError):
    """A request that cannot be done as asked (unknown env, wrong action space, budget);
    repairing the code cannot fix it, so generation stops with this one sentence.

    ``subject`` names the spec value at fault (``algo``, ``env``, ``steps``, ...) so a
    caller can tell a value the request stated from one the model chose.
    """

    def __init__(self, message: str, subject: str = ""):
        super().__init__(message)
        self.subject = subject
