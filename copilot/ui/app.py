"""The RL Copilot web UI: one Gradio Blocks app with a tab per task.

:func:`launch` starts the model and index loading in background threads, then serves the
page at once; the header shows what is still loading. :func:`build_app` lays out the tabs
(each in its own module) around one shared :class:`~copilot.ui.services.Services`.
"""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import gradio as gr

from copilot.ui import chat_tab, docs_tab, generate_tab, models_tab, runs_tab
from copilot.ui.render import status_html
from copilot.ui.services import Services

TITLE = "RL Copilot"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATUS_EVERY_S = 2.0
CSS_FILE = Path(__file__).with_name("style.css")


def theme() -> gr.themes.Base:
    """A quiet theme using local fonts only (the page must work offline)."""
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                          font=["Inter", "ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])


def header_status(services: Services) -> str:
    if services.models.error and not services.models.ready:
        kind = "error"
    elif services.index_state == "failed":
        kind = "error"
    else:
        kind = "ok" if services.ready else "busy"
    return status_html(services.status_line(), kind)


def exports_dir(services: Services) -> Path:
    """Where downloads (scripts, zipped runs) are written; emptied at each start."""
    path = Path(services.settings.home) / "ui-exports"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_app(services: Services, exports: Path) -> gr.Blocks:
    """The Blocks app: a header with live model/index status, then the five tabs."""
    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        with gr.Row(elem_id="cp-header"):
            gr.HTML(f"<h1>{TITLE}</h1><p>Offline answers about RL and rlcore, training scripts "
                    "that run, and the docs at hand.</p>", elem_id="cp-title")
            header = gr.HTML(header_status(services), elem_id="app-status")

        def refresh_header() -> str:
            return header_status(services)

        gr.Timer(STATUS_EVERY_S).tick(refresh_header, None, header, queue=False, show_progress="hidden")

        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat_tab.build(services)
            with gr.Tab("Generate & Run", id="generate"):
                generate_tab.build(services, exports)
            with gr.Tab("Runs", id="runs") as runs:
                runs_ui = runs_tab.build(services, exports)
            with gr.Tab("Docs", id="docs"):
                docs_tab.build(services)
            with gr.Tab("Models", id="models"):
                models_tab.build(services, header, refresh_header)
        runs.select(runs_ui["load"], None, runs_ui["outputs"], queue=False)
        demo.load(refresh_header, None, header, queue=False, show_progress="hidden")
        demo.load(runs_ui["load"], None, runs_ui["outputs"], queue=False, show_progress="hidden")
    return demo


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (checked before any loading starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def access_for(settings) -> "Access":
    """The credential every request must show: the configured user and password, else a fresh token."""
    from copilot.config import parse_auth
    from copilot.ui.auth import Access

    if settings.auth:
        user, password = parse_auth(settings.auth)
        return Access(user=user, password=password)
    return Access.with_token()


def launch(host: str = "127.0.0.1", port: int = 7860, model: str | None = None, auth: str | None = None,
           home: str | None = None) -> int:
    """Serve the UI until interrupted; returns the process exit status."""
    from starlette.middleware import Middleware

    from copilot.config import ConfigError, load_settings
    from copilot.ui.auth import AuthGate

    try:
        settings = load_settings({"home": home, "model": model, "auth": auth})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if host not in LOOPBACK and not settings.auth:
        print(f"error: binding {host!r} exposes the UI beyond this machine; pass --auth "
              "user:password (or set COPILOT_AUTH) to do that.", file=sys.stderr)
        return 2
    if not port_free(host, port):
        print(f"error: port {port} on {host} is already in use; pick another --port.", file=sys.stderr)
        return 2
    access = access_for(settings)
    # Print before loading starts: llama.cpp silences stdout/stderr while it loads a model.
    how = "open it with its token" if access.mode == "token" else "log in as " + access.user
    print(f"RL Copilot on {access.start_url(host, port)} ({how}; model: {settings.model}, "
          "loading in the background)", flush=True)
    services = Services(settings)
    services.start()
    exports = exports_dir(services)
    demo = build_app(services, exports)
    demo.queue(default_concurrency_limit=1, max_size=64)
    for folder in (settings.runs_dir, settings.imports_dir):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        demo.launch(server_name=host, server_port=port, theme=theme(), css_paths=[CSS_FILE],
                    allowed_paths=[str(settings.runs_dir), str(exports)], ssr_mode=False, quiet=True,
                    show_error=False, footer_links=[], run_history=False,
                    app_kwargs={"middleware": [Middleware(AuthGate, access=access)]})
    except OSError as exc:
        print(f"error: cannot serve on {host}:{port} ({exc}); pick another --port.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
