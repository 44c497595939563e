"""Evidence keeps a valid media type (else application/octet-stream), downloads
are attachments, and every response says nosniff."""

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.hostile.raw import send


def _upload_raw(live, item_id: int, content_type: bytes) -> tuple[int, dict]:
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.html"\r\n'
        b"Content-Type: " + content_type + b"\r\n\r\n<script>alert(1)</script>\r\n--b0undary--\r\n"
    )
    headers = {
        "Authorization": f"Bearer {ADMIN_TOKEN}",
        "Content-Type": "multipart/form-data; boundary=b0undary",
        "Content-Length": str(len(body)),
    }
    r = send(live.url, "POST", f"/api/v1/items/{item_id}/evidence", headers, [body], chunked=False)
    import json

    return r.status, json.loads(r.body)


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        (b"text/html", "text/html"),
        (b"image/svg+xml", "image/svg+xml"),
        (b"application/pdf; charset=binary", "application/pdf; charset=binary"),
        (b"text/plain\x00evil", "application/octet-stream"),
        (b"text/" + b"x" * 200, "application/octet-stream"),
        (b"not a media type", "application/octet-stream"),
        (b"*/*", "application/octet-stream"),  # a range of types, not a file's type
        (b"text/*; charset=utf-8", "application/octet-stream"),
    ],
)
def test_content_types_are_checked_and_downloads_are_attachments(live, live_api, declared, stored):
    item = live_api.item()
    status, evidence = _upload_raw(live, item["id"], declared)
    assert status == 201, evidence
    assert evidence["content_type"] == stored
    r = live_api.get(f"/items/{item['id']}/evidence/{evidence['id']}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(stored)
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == b"<script>alert(1)</script>"


def test_every_response_says_nosniff(live_api, live):
    import httpx

    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/nowhere", "/console/"):
        # once: the header is the guard's alone ("nosniff, nosniff" is not the header)
        assert httpx.get(live.url + path, timeout=60).headers["x-content-type-options"] == "nosniff"
    for r in (
        live_api.get("/items"),
        live_api.get("/items", token=None),
        live_api.get("/items/999"),
        live_api.post("/items", json={}),
        live_api.call("PUT", "/items"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.status_code


def test_json_bodies_say_their_charset(live_api, live):
    """API.md: bodies are ``application/json; charset=utf-8``; errors problem+json."""
    import httpx

    for r in (live_api.get("/items"), live_api.get("/me"), httpx.get(live.url + "/healthz")):
        assert r.headers["content-type"] == "application/json; charset=utf-8", r.url
    assert live_api.get("/items/999").headers["content-type"] == "application/problem+json"


def test_head_answers_what_get_does_without_the_body(live_api, live):
    """RFC 9110 9.3.2 (a load balancer's probe is often a HEAD): the status and headers
    of the GET, ETag and Content-Length included, and no body."""
    import httpx

    item = live_api.item()
    for path, headers in (
        ("/healthz", {}),
        ("/readyz", {}),
        (f"/api/v1/items/{item['id']}", {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        ("/api/v1/items/999999", {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    ):
        got = httpx.get(live.url + path, headers=headers, timeout=60)
        head = httpx.head(live.url + path, headers=headers, timeout=60)
        assert head.status_code == got.status_code, (path, head.status_code, head.text)
        assert head.content == b""
        for name in ("content-type", "content-length", "etag", "x-content-type-options"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    # a route without GET is still 405 for HEAD
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert httpx.head(live.url + "/api/v1/items/batch", headers=admin).status_code == 405
