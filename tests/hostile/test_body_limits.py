"""Bodies are limited while they are read, with or without a Content-Length:
JSON over RECTIFY_MAX_JSON_KB and uploads over RECTIFY_MAX_UPLOAD_MB are 413,
and nothing over the limit is spooled."""

import socket
import tempfile
import time
from urllib.parse import urlsplit

import httpx
import pytest

from app.main import create_app
from app.settings import get_settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import Api
from tests.hostile.raw import chunks, send
from tests.live import LiveServer

MB = 1024 * 1024


@pytest.fixture
def small_limits(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("RECTIFY_MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("RECTIFY_MAX_JSON_KB", "64")
    get_settings.cache_clear()
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    with (
        LiveServer(create_app(engine, migrate=False)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield server, Api(client, ADMIN_TOKEN), spool


def _headers(content_type: str, **extra) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": content_type, **extra}


def _multipart_prefix(name: str = "x.bin") -> bytes:
    return (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )


def _spooled(spool) -> int:
    return sum(p.stat().st_size for p in spool.rglob("*") if p.is_file())


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length-lies"])
def test_json_over_the_limit_is_413_while_it_is_read(small_limits, chunked):
    server, api, _spool = small_limits
    body = [b'{"title": "', *chunks(20 * MB, byte=b"a")]
    # a Content-Length that lies (under the limit) is caught by counting, too
    extra = {} if chunked else {"Content-Length": str(60 * 1024)}
    r = send(
        server.url,
        "POST",
        "/api/v1/items",
        _headers("application/json", **extra),
        body,
        chunked=chunked,
    )
    if chunked:
        assert r.status == 413, r.body
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["connection"] == "close"  # the rest of the body is never read
    else:  # the server reads only Content-Length bytes: a bad body, never more
        assert r.status in (400, 422), r.body
    assert r.sent < 8 * MB


def test_a_declared_length_over_the_limit_is_413_at_once(small_limits):
    server, _api, _spool = small_limits
    headers = _headers("application/json", **{"Content-Length": str(100 * MB)})
    r = send(server.url, "POST", "/api/v1/items", headers, chunks(100 * MB), chunked=False)
    assert r.status == 413 and r.sent < 8 * MB
    assert r.headers["connection"] == "close"


@pytest.mark.parametrize("path", ["/items/{id}/evidence", "/items/import"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_uploads_over_the_limit_are_413_and_not_spooled(small_limits, path, chunked):
    server, api, spool = small_limits
    path = "/api/v1" + path.replace("{id}", str(api.item()["id"]))
    headers = _headers("multipart/form-data; boundary=b0undary")
    if not chunked:
        headers["Content-Length"] = str(50 * MB)
    r = send(
        server.url, "POST", path, headers, [_multipart_prefix(), *chunks(50 * MB)], chunked=chunked
    )
    assert r.status == 413, r.body
    assert r.headers["connection"] == "close"
    assert r.sent < 8 * MB
    assert _spooled(spool) <= 1 * MB + 64 * 1024
    evidence = get_settings().evidence_dir
    assert not evidence.exists() or _spooled(evidence) == 0


def test_bodies_within_the_limits_pass(small_limits):
    server, api, _spool = small_limits
    item = api.item(description="说明" * 10_000)  # 60 KB of UTF-8, under 64 KB
    files = {"file": ("a.bin", b"x" * (MB - 100), "application/octet-stream")}
    api.post(f"/items/{item['id']}/evidence", files=files, expect=201)


def test_a_client_gone_mid_body_is_no_server_error(live_api, live):
    """Whoever cuts a body off (on purpose or not) must not raise the 5xx rate."""
    item = live_api.item()
    where = urlsplit(live.url)
    path = f"/api/v1/items/{item['id']}/transitions"
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"acti'.encode()
        )
    route = 'route="/api/v1/items/{item_id}/transitions"'

    def counted() -> list[str]:
        text = live_api.client.get("/metrics").text
        return [line for line in text.splitlines() if route in line and "POST" in line]

    deadline = time.monotonic() + 30
    while not any('status="499"' in line for line in counted()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any('status="499"' in line for line in counted()), counted()
    assert not any('status="500"' in line for line in counted()), counted()
