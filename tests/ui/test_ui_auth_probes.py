"""Further probes of the web UI's gate, run against the real app (``python app.py``).

Requests are sent as raw HTTP so that paths reach the server exactly as written (no client
normalises ``..`` or case). Probes that hold are regression tests; those marked
``xfail(strict=True)`` are known weaknesses and pass once fixed (then the marker must go).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_browser import REPO, free_port, start_url, stop, wait_http  # noqa: E402

from copilot.config import Settings  # noqa: E402
from copilot.sources import collect  # noqa: E402
from copilot.ui.models_tab import check_ingest_paths  # noqa: E402

SECRET = uuid.uuid4().hex


def _raw(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one HTTP/1.1 request sent byte for byte."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), fields, rest


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[dict]:
    """The real app on a free port: its port, token and data folder."""
    tmp = tmp_path_factory.mktemp("auth-probes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update(COPILOT_HOME=str(tmp / "home"), COPILOT_MODEL=str(tmp / "no-model.gguf"),
               COPILOT_EMBEDDER=str(tmp / "no-embedder"), COPILOT_CORPUS=str(tmp / "corpus"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    (tmp / "corpus").mkdir()
    log = tmp / "server.log"
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        url = start_url(proc, log)
        wait_http(url, proc, log)
        yield {"port": port, "token": url.partition("?token=")[2], "home": tmp / "home", "tmp": tmp, "log": log}
    finally:
        stop(proc)


# Asset, info, file, progress and monitoring routes, and paths spelled to slip past an
# exact-match check (dot segments, case, trailing slash, an encoded '=').
CLOSED = ["/theme.css", "/favicon.ico", "/manifest.json", "/robots.txt", "/static/img/logo.svg",
          "/assets/index.js", "/info", "/file=/etc/hostname", "/gradio_api/file%3D/etc/hostname",
          "/gradio_api/upload_progress?upload_id=x", "/monitoring", "/gradio_api/queue/status", "/config/",
          "/gradio_api/info/", "/GRADIO_API/INFO", "/gradio_api/startup-events/../../config",
          "/gradio_api/startup-events/../info", "/gradio_api/mcp/sse", "/login", "/svelte/"]


def test_assets_and_tricky_paths_need_the_token(app):
    opened = {path: status for path in CLOSED if (status := _raw(app["port"], "GET", path)[0]) != 401}
    assert not opened


@pytest.mark.parametrize("method", ["HEAD", "POST", "OPTIONS", "PUT"])
def test_the_open_start_up_trigger_answers_get_only(app, method):
    assert _raw(app["port"], method, "/gradio_api/startup-events")[0] == 401


def test_file_route_refuses_a_link_out_of_the_runs_folder(app):
    secret = app["tmp"] / "host-secret.txt"
    secret.write_text(f"secret {SECRET}")
    run = app["home"] / "runs" / "planted"
    run.mkdir(parents=True, exist_ok=True)
    (run / "notes.txt").symlink_to(secret)
    status, _, body = _raw(app["port"], "GET", f"/gradio_api/file={run / 'notes.txt'}",
                           {"Authorization": f"Bearer {app['token']}"})
    assert status == 403 and SECRET.encode() not in body


def test_the_token_is_logged_only_in_the_start_up_line(app):
    token = app["token"]
    assert _raw(app["port"], "GET", f"/?token={token}")[0] == 200
    assert _raw(app["port"], "GET", f"/config?token={token}x")[0] == 401
    assert app["log"].read_text(errors="replace").count(token) == 1


def test_a_page_on_another_local_port_cannot_use_the_cookie(app):
    port, token = app["port"], app["token"]
    foreign = f"http://127.0.0.1:{free_port()}"
    cookie = f"rlcopilot-token-{port}={token}"
    pre, pre_headers, _ = _raw(port, "OPTIONS", "/gradio_api/queue/join",
                               {"Origin": foreign, "Access-Control-Request-Method": "POST",
                                "Access-Control-Request-Headers": "content-type"})
    body = json.dumps({"data": [], "fn_index": 0, "session_hash": "probe"}).encode()
    status, headers, _ = _raw(port, "POST", "/gradio_api/queue/join",
                              {"Origin": foreign, "Cookie": cookie, "Content-Type": "application/json"}, body)
    assert pre_headers.get("access-control-allow-origin") != foreign
    assert status in (401, 403) and headers.get("access-control-allow-origin") != foreign


def test_a_link_inside_an_ingest_root_does_not_lead_outside(tmp_path):
    root = tmp_path / "imports"
    (root / "papers").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.md").write_text(f"# Secret\n\n{SECRET}\n")
    (root / "papers" / "notes.md").symlink_to(tmp_path / "outside" / "secret.md")
    (root / "papers" / "own.md").write_text("# Own\n\nA note of the user's.\n")
    (root / "papers" / "same.md").symlink_to(root / "papers" / "own.md")  # inside: kept
    settings = Settings(home=tmp_path, corpus=[])
    allowed = check_ingest_paths([str(root / "papers")], settings)
    sources, scope = collect(allowed, settings, api_packages=())
    assert sources and all(Path(s.file).resolve().is_relative_to(root) for s in sources), [s.key for s in sources]
    assert sorted(Path(s.file).name for s in sources) == ["own.md", "same.md"]
    assert [(Path(s.path).name, s.reason) for s in scope.skipped] == [("notes.md", "link_outside")]


def test_the_password_is_not_in_the_process_list(tmp_path):
    password = f"pw-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update(COPILOT_HOME=str(tmp_path / "home"), COPILOT_MODEL=str(tmp_path / "no-model.gguf"),
               COPILOT_EMBEDDER=str(tmp_path / "no-embedder"), COPILOT_CORPUS=str(tmp_path / "corpus"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(free_port()), "--auth", f"user:{password}"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        start_url(proc, log)  # serving: whatever it does with its arguments is done
        listed = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        stop(proc)
    assert password.encode() not in listed
