"""Helpers for the browser tests: the app server handle, Chromium, waits and screenshots."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_LIMIT_S = 90  # the page must answer HTTP within this (it is usually well under 20 s)
READY_LIMIT_S = 600  # model loaded and index ready (includes a first index build)


@dataclass
class Server:
    url: str  # the start-up URL, with its token
    home: Path
    proc: subprocess.Popen
    startup_s: float
    model_file: Path
    log: Path


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def start_url(proc: subprocess.Popen, log: Path, limit_s: float = STARTUP_LIMIT_S) -> str:
    """The start-up URL that app.py prints (with its token), read from its log."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        found = re.search(r"RL Copilot on (http://\S+)", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"app.py printed no start-up URL:\n{log.read_text(errors='replace')[-4000:]}")


def wait_http(url: str, proc: subprocess.Popen, log: Path) -> float:
    """Seconds until ``url`` answers 200; fails with the server log if it exits or takes too long."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < STARTUP_LIMIT_S:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - t0
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"app.py did not answer within {STARTUP_LIMIT_S} s:\n"
                f"{log.read_text(errors='replace')[-4000:]}")


def wait_ready(page, timeout_s: float = READY_LIMIT_S) -> None:
    """Wait until the header says the model and the index are ready."""
    page.wait_for_function(
        "() => { const el = document.querySelector('#app-status');"
        " return !!el && / ready · index: ready/.test(el.innerText); }", timeout=timeout_s * 1000)


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def stop(proc: subprocess.Popen, grace_s: float = 15) -> None:
    """Terminate a started app, killing it if it has not exited after ``grace_s``."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
