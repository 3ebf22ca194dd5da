"""Every HTTP endpoint of the real app needs its credential, loopback included.

``python app.py`` runs in a child process on a free loopback port, with a model file and an
embedder that do not exist, so nothing heavy loads: the gate in front of Gradio is what is
tested, with direct API calls as another local process would make them.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_browser import REPO, free_port, start_url, stop, wait_http  # noqa: E402

sys.path.insert(0, str(REPO))
import app as app_cli  # noqa: E402 - the repository's app.py

# (method, path, body) for each kind of endpoint: page, config, API info, the queue that runs
# scripts, the non-queued call API, uploads and file downloads.
ENDPOINTS = [
    ("GET", "/", None),
    ("GET", "/config", None),
    ("GET", "/gradio_api/info", None),
    ("POST", "/gradio_api/queue/join", {"data": ["print(1)", 60], "fn_index": 0, "session_hash": "x1"}),
    ("GET", "/gradio_api/queue/data?session_hash=x1", None),
    ("POST", "/gradio_api/run/predict", {"data": [], "fn_index": 0}),
    ("POST", "/gradio_api/call/predict", {"data": []}),
    ("GET", "/gradio_api/file=/etc/hostname", None),
    ("GET", "/gradio_api/heartbeat/x1", None),
]


def _start(tmp: Path, *args: str) -> tuple[subprocess.Popen, str, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update(COPILOT_HOME=str(tmp / "home"), COPILOT_MODEL=str(tmp / "no-model.gguf"),
               COPILOT_EMBEDDER=str(tmp / "no-embedder"), COPILOT_CORPUS=str(tmp / "corpus"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    (tmp / "corpus").mkdir(parents=True, exist_ok=True)
    log = tmp / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(free_port()), *args], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, start_url(proc, log), log




@pytest.fixture(scope="module")
def token_app(tmp_path_factory) -> Iterator[tuple[str, str]]:
    proc, url, log = _start(tmp_path_factory.mktemp("auth-token"))
    try:
        wait_http(url, proc, log)
        base, _, token = url.partition("?token=")
        yield base.rstrip("/"), token
    finally:
        stop(proc)


def _call(client: httpx.Client, method: str, path: str, body, **kw) -> httpx.Response:
    return client.request(method, path, json=body, **kw)


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=[p for _, p, _ in ENDPOINTS])
def test_every_endpoint_refuses_a_call_without_the_token(token_app, method, path, body):
    base, token = token_app
    with httpx.Client(base_url=base, timeout=10) as client:
        bare = _call(client, method, path, body)
        wrong = _call(client, method, path, body, headers={"Authorization": f"Bearer {token[:-1]}x"})
        cookie = _call(client, method, path, body, cookies={"rlcopilot-token-1": token})  # another port's
    for resp in (bare, wrong, cookie):
        assert resp.status_code == 401, (path, resp.status_code, resp.text[:200])
        assert "access token" in resp.text and resp.text.count(".") == 1


def test_the_token_opens_the_page_config_and_api(token_app):
    base, token = token_app
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/", params={"token": token}).status_code == 200
        # the page stored the token in a cookie: the page's own calls need nothing else
        assert any(c.startswith("rlcopilot-token-") for c in client.cookies)
        config = client.get("/config")
        assert config.status_code == 200 and "components" in config.json()
        assert client.get("/gradio_api/info").status_code == 200
    header = httpx.get(f"{base}/config", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert header.status_code == 200


def test_upload_needs_the_token(token_app):
    base, token = token_app
    files = {"files": ("x.txt", b"hello", "text/plain")}
    assert httpx.post(f"{base}/gradio_api/upload", files=files, timeout=10).status_code == 401
    ok = httpx.post(f"{base}/gradio_api/upload", files=files, timeout=10,
                    headers={"Authorization": f"token {token}"})
    assert ok.status_code == 200, ok.text[:200]


def test_password_mode_uses_basic_credentials(tmp_path):
    proc, url, log = _start(tmp_path, "--auth", "ana:s3cret:x")
    try:
        assert "?token=" not in url and "log in as ana" in log.read_text()
        wait_http_basic(url, proc, log)
        good = base64.b64encode(b"ana:s3cret:x").decode()
        bad = base64.b64encode(b"ana:s3cret").decode()
        refused = httpx.get(url + "config", headers={"Authorization": f"Basic {bad}"}, timeout=10)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(url + "config", timeout=10).status_code == 401
        assert httpx.get(url + "config", headers={"Authorization": f"Basic {good}"}, timeout=10).status_code == 200
    finally:
        stop(proc)


def wait_http_basic(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Wait until the server answers (401 counts: it is up and guarding)."""
    import time

    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(log.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(url, timeout=2).status_code == 401:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("the app did not answer")


@pytest.mark.parametrize("value,says", [(":", "an empty user"), ("ana:", "an empty password"),
                                        (":pw", "an empty user"), ("nocolon", "without ':'"),
                                        ("", "an empty value")])
def test_empty_user_or_password_is_refused(value, says, capsys):
    assert app_cli.main(["--auth", value, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_auth_from_the_environment_is_checked_too(monkeypatch, capsys):
    monkeypatch.setenv("COPILOT_AUTH", "ana:")
    assert app_cli.main(["--port", "1"]) == 2
    assert "an empty password" in capsys.readouterr().err


def test_auth_file_gives_the_password_and_bad_files_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COPILOT_AUTH", raising=False)
    good = tmp_path / "auth"
    good.write_text("ana:s3cret\n")
    good.chmod(0o600)
    assert app_cli._auth_of(app_cli.parse_args(["--auth-file", str(good)])) == "ana:s3cret"
    assert app_cli.main(["--auth-file", str(tmp_path / "missing"), "--port", "1"]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert app_cli.main(["--auth-file", str(good), "--auth", "a:b", "--port", "1"]) == 2
    assert "only --auth-file" in capsys.readouterr().err
    (tmp_path / "empty").write_text("ana:\n")
    assert app_cli.main(["--auth-file", str(tmp_path / "empty"), "--port", "1"]) == 2
