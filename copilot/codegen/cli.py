"""``generate`` and ``run`` subcommands of ``python -m copilot``."""

from __future__ import annotations

import argparse


def add_codegen_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``generate`` and ``run`` (implemented in :mod:`copilot.codegen`)."""
    return None
