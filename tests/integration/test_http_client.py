"""The JSON API with a Python client (httpx): sessions, folder operations, streamed uploads."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from appliance.runtime.services.http import api, openapi
from tests.http_support import base_url, http_appliance
from tests.unit.test_http_openapi import test_openapi_document_matches_the_api_routes


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with http_appliance(tmp_path_factory.mktemp("http-client")) as running:
        yield running


@pytest.fixture
def client(app):
    with httpx.Client(base_url=base_url(app), timeout=30) as session:
        answer = session.post("/api/login", json={"username": "alice", "password": "alice-pw"})
        assert answer.status_code == 200, answer.text
        yield session


def test_served_openapi_document_is_the_one_matching_the_routes(app):
    served = httpx.get(base_url(app) + "/api/openapi.json").json()
    assert served == openapi.document()
    assert api.ROUTES
    test_openapi_document_matches_the_api_routes()


def test_session_folder_operations_and_logout(app, client):
    assert client.get("/api/session").json()["account"] == "alice"
    assert client.post("/api/folders/inbox").status_code == 201
    assert client.post("/api/folders/inbox").status_code == 409
    assert client.put("/api/files/inbox/a.txt", content=b"hello").status_code == 201
    listing = client.get("/api/files/inbox").json()
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("a.txt", 5)]
    moved = client.post("/api/rename", json={"source": "/inbox/a.txt", "destination": "/b.txt"})
    assert moved.status_code == 200 and moved.json()["path"] == "/b.txt"
    assert client.get("/api/stat/b.txt").json()["size"] == 5
    assert client.delete("/api/files/inbox").status_code == 204
    assert client.delete("/api/files/b.txt").status_code == 204
    assert client.get("/api/stat/b.txt").status_code == 404

    assert client.post("/api/logout").status_code == 204
    assert client.get("/api/session").status_code == 401
    app.wait_event(20027, lambda e: e["account"] == "alice")


def test_a_logged_out_token_stays_refused(app, client):
    token = client.cookies["appliance_session"]
    client.post("/api/logout")
    answer = httpx.get(base_url(app) + "/api/session", cookies={"appliance_session": token})
    assert answer.status_code == 401


def test_paths_cannot_leave_the_home_folder(client):
    for path in ("/api/files/../alice-pw", "/api/files/%2e%2e/%2e%2e/etc/passwd"):
        assert client.get(path).status_code in (400, 404)
    assert client.get("/api/stat/a%00b").status_code == 400


def test_large_upload_is_streamed_and_invisible_until_complete(app, client):
    chunk = b"x" * (1 << 20)
    visible_during_upload = []

    def body():
        for index in range(24):
            if index == 12:
                names = {e["name"] for e in client.get("/api/files/").json()["entries"]}
                visible_during_upload.append("big.bin" in names)
            yield chunk

    with httpx.Client(base_url=base_url(app), timeout=60, auth=("alice", "alice-pw")) as basic:
        answer = basic.put("/api/files/big.bin", content=body())
    assert answer.status_code == 201 and answer.json()["size"] == 24 << 20
    assert visible_during_upload == [False]
    assert (app.home("alice") / "big.bin").stat().st_size == 24 << 20


def test_interrupted_upload_leaves_no_file(app):
    with socket.create_connection(("127.0.0.1", app.port("web"))) as sock:
        sock.sendall(
            b"PUT /api/files/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
            b"Authorization: Basic YWxpY2U6YWxpY2UtcHc=\r\n\r\n" + b"y" * 100000
        )
        app.wait_event(40007, lambda e: e["data"]["path"] == "/cut.bin")
    app.wait_event(20051, lambda e: e["data"]["path"] == "/cut.bin")
    assert not (app.home("alice") / "cut.bin").exists()
    hidden = [p.name for p in app.home("alice").iterdir() if "cut.bin" in p.name]
    assert hidden == []


def test_file_names_are_escaped_in_the_listing_page(app, client):
    name = "<img src=x onerror=alert(1)>.txt"
    assert client.put("/api/files/" + name, content=b"!").status_code == 201
    page = client.get("/files/").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page


def test_downloads_are_attachments_even_for_html(client):
    client.put("/api/files/page.html", content=b"<script>alert(1)</script>")
    answer = client.get("/files/page.html")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.content == b"<script>alert(1)</script>"


def test_concurrent_requests_do_not_block_each_other(app, client):
    results = []

    def fetch():
        results.append(client.get("/api/files/").status_code)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 8
