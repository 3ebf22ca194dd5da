"""Fixtures for the browser tests: the real app on a free port and Debian's Chromium.

The app runs as ``python app.py`` in a subprocess with a temporary ``COPILOT_HOME``. It
reuses the real default model (the assembled GGUF is linked, not copied) and an existing
index when there is one (copied, then brought up to date by the app); otherwise the app
builds the index at start, once for the whole session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for ui_browser, also under --import-mode=importlib
from ui_browser import (  # noqa: E402
    CHROMIUM_ARGS, REPO, SHOTS, Server, chromium, free_port, start_url, stop, wait_http, wait_ready)


def _real_model() -> tuple[Path, Path]:
    """The assembled default model file and the real index folder (assembling once if needed)."""
    from copilot.config import load_settings
    from copilot.llm.assets import QWEN_CODER_05B, AssetError, ensure_asset

    real = load_settings(use_file=False)
    try:
        return ensure_asset(QWEN_CODER_05B, real.models_dir, progress=False), real.index_dir
    except AssetError as exc:
        pytest.skip(f"the default model is not installed ({exc})")


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if chromium() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); "
                    "the browser tests need it")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    model_file, real_index = _real_model()
    home = tmp_path_factory.mktemp("ui-home")
    (home / "models").symlink_to(model_file.parent, target_is_directory=True)
    if (real_index / "manifest.json").is_file():
        shutil.copytree(real_index, home / "index")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update(COPILOT_HOME=str(home), COPILOT_MAX_TOKENS="128",
               COPILOT_THREADS=str(min(2, os.cpu_count() or 1)),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false")
    port = free_port()
    log = home / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        url = start_url(proc, log)
        assert url.startswith(f"http://127.0.0.1:{port}/?token="), url
        server = Server(url, home, proc, wait_http(url, proc, log), model_file, log)
        yield server
    finally:
        stop(proc)
        SHOTS.parent.mkdir(parents=True, exist_ok=True)
        if log.exists():
            shutil.copyfile(log, SHOTS.parent / "ui-server.log")


@pytest.fixture(scope="session")
def browser(ui_server: Server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        yield chrome
        chrome.close()


@pytest.fixture
def page(browser, ui_server: Server):
    """A fresh browser context (its own session) on the app, once the app is ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(ui_server.url)
    pg.wait_for_selector("#chatbot")
    wait_ready(pg)
    yield pg
    context.close()
