"""The auth gate on its own, around a tiny Starlette app (the real app is in test_ui_auth.py)."""

from __future__ import annotations

import base64

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from copilot.ui.auth import Access, AuthGate


async def hello(request):
    return PlainTextResponse("hello")


async def ws(websocket):
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def client(access: Access) -> TestClient:
    app = Starlette(routes=[Route("/", hello), Route("/gradio_api/startup-events", hello), WebSocketRoute("/ws", ws)],
                    middleware=[Middleware(AuthGate, access=access)])
    return TestClient(app, base_url="http://127.0.0.1:7000")


def test_token_by_query_sets_a_cookie_for_this_port_only():
    access = Access.with_token()
    c = client(access)
    assert c.get("/").status_code == 401
    ok = c.get("/", params={"token": access.token})
    assert ok.status_code == 200 and ok.text == "hello"
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith(f"rlcopilot-token-7000={access.token};") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert c.get("/").status_code == 200  # the cookie now carries it


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer nope"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                                     {"Cookie": "rlcopilot-token-7000=nope"}, {"Cookie": '"bad;;=cookie\\'},
                                     {"Authorization": "Bearer \u00e9\u00e9".encode("latin-1")}])
def test_wrong_credentials_are_refused(headers):
    c = client(Access.with_token())
    resp = c.get("/", headers=headers)
    assert resp.status_code == 401 and "access token" in resp.text


def test_websockets_need_the_token_too():
    access = Access.with_token()
    c = client(access)
    with pytest.raises(WebSocketDisconnect):
        with c.websocket_connect("/ws") as sock:
            sock.receive_text()
    with c.websocket_connect("/ws", headers={"Authorization": f"Bearer {access.token}"}) as sock:
        assert sock.receive_text() == "hi"


def test_only_the_start_up_trigger_is_open():
    c = client(Access.with_token())
    assert c.get("/gradio_api/startup-events").status_code == 200
    assert c.post("/gradio_api/startup-events").status_code == 401


def test_password_mode_checks_user_and_password():
    c = client(Access(user="ana", password="pw:1"))
    good = base64.b64encode(b"ana:pw:1").decode()
    assert c.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    for bad in (b"ana:pw", b"bob:pw:1", b"anapw1"):
        resp = c.get("/", headers={"Authorization": f"Basic {base64.b64encode(bad).decode()}"})
        assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Basic")
    assert c.get("/", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert "token" not in repr(Access.with_token()).split("(")[1]  # the secret is not printed


def test_start_url():
    access = Access.with_token()
    assert access.start_url("127.0.0.1", 7860) == f"http://127.0.0.1:7860/?token={access.token}"
    assert Access(user="a", password="b").start_url("::1", 80) == "http://[::1]:80/"


def test_other_origins_are_refused_even_behind_a_permissive_cors_layer():
    from starlette.middleware.cors import CORSMiddleware

    access = Access.with_token()
    app = Starlette(routes=[Route("/", hello, methods=["GET", "POST"])],
                    middleware=[Middleware(CORSMiddleware, allow_origin_regex=".*", allow_credentials=True,
                                           allow_methods=["*"], allow_headers=["*"]),
                                Middleware(AuthGate, access=access)])
    auth = {"Authorization": f"Bearer {access.token}"}
    with TestClient(app, base_url="http://127.0.0.1:7000") as c:  # the lifespan moves the gate outside
        pre = c.options("/", headers={"Origin": "http://127.0.0.1:7001", "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
        assert "another origin" in pre.text
        for headers in ({"Origin": "http://127.0.0.1:7001"}, {"Origin": "http://localhost:7000"},
                        {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"}):
            assert c.post("/", headers={**auth, **headers}).status_code == 403, headers
        for headers in ({}, {"Origin": "http://127.0.0.1:7000"}, {"Sec-Fetch-Site": "same-origin"},
                        {"Sec-Fetch-Site": "none"}, {"Origin": "http://localhost:7000", "Host": "localhost:7000"}):
            assert c.post("/", headers={**auth, **headers}).status_code == 200, headers
        assert c.post("/", headers={"Origin": "http://127.0.0.1:7000"}).status_code == 401
