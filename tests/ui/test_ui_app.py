"""The app wiring: every tab is built around the shared services; the CLI guards its address."""

from __future__ import annotations

import sys
from pathlib import Path

from copilot.config import Settings
from copilot.ui.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import app as app_cli  # noqa: E402 - the repository's app.py


def test_build_app_has_every_tab_and_control(tmp_path: Path):
    from copilot.ui.app import build_app

    services = Services(Settings(home=tmp_path, model="none"), build_index=False)
    demo = build_app(services, tmp_path / "exports")
    config = demo.get_config_file()
    labels = {c["props"].get("label") for c in config["components"] if c.get("type") == "tabitem"}
    assert labels == {"Chat", "Generate & Run", "Runs", "Docs", "Models"}
    ids = {c["props"].get("elem_id") for c in config["components"]}
    for needed in ("chatbot", "chat-stop", "chat-regen", "chat-clear", "gen-script", "gen-cancel",
                   "gen-curve", "gen-dl-run", "gen-plan", "gen-runs", "gen-result", "runs-plot",
                   "docs-results", "docs-open", "model-load",
                   "reingest", "app-status"):
        assert needed in ids, needed


def test_non_loopback_needs_credentials(capsys):
    assert app_cli.main(["--host", "0.0.0.0", "--port", "1"]) == 2
    assert "pass --auth user:password" in capsys.readouterr().err
    assert app_cli.main(["--auth", "nocolon"]) == 2


def test_launch_refuses_bad_settings(monkeypatch, capsys, tmp_path: Path):
    from copilot.ui.app import launch

    monkeypatch.setenv("COPILOT_K", "0")
    assert launch(port=1, home=str(tmp_path)) == 2
    assert "need k>=1" in capsys.readouterr().err


def test_launch_refuses_a_busy_port_before_loading_anything(capsys, tmp_path: Path):
    import socket

    from copilot.ui.app import launch

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert launch(port=port, home=str(tmp_path)) == 2
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()  # nothing was assembled or loaded
