"""Servers the tests start on loopback: ``from servers import wait_until_serving``."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest


def wait_until_serving(url: str, proc, log: Path, what: str, timeout: float, poll: float = 0.2) -> None:
    """Return once ``url`` answers; fail the test with the tail of ``log`` when ``proc`` exits or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start: {Path(log).read_text(errors='replace')[-1500:]}")
            time.sleep(poll)
