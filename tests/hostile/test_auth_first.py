"""Authentication comes before any body is read: a stranger's body is never
received, chunked or not (contract: "Hostile input and outages")."""

import pytest

from tests.hostile.raw import chunks, send

BIG = 200 * 1024 * 1024


@pytest.fixture
def item_id(live_api):
    return live_api.item()["id"]


def _targets(item_id: int) -> list[tuple[str, dict[str, str]]]:
    json = {"Content-Type": "application/json"}
    multipart = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    return [
        ("/api/v1/items", json),
        (f"/api/v1/items/{item_id}/transitions", json),
        (f"/api/v1/items/{item_id}/evidence", multipart),
        ("/api/v1/items/import", multipart),
        ("/api/v1/units", json),
    ]


@pytest.mark.parametrize("auth", ["Bearer rk_invalid0123456789", None, "Basic Zm9vOmJhcg=="])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_stranger_is_401_before_the_body_is_read(live, item_id, auth, chunked):
    for path, headers in _targets(item_id):
        headers = dict(headers)
        if auth:
            headers["Authorization"] = auth
        if not chunked:
            headers["Content-Length"] = str(BIG)
        r = send(live.url, "POST", path, headers, chunks(BIG), chunked=chunked)
        assert r.status == 401, (path, r.status, r.body)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["x-content-type-options"] == "nosniff"
        # the answer came after at most what the socket buffers took, not 200 MB
        assert r.sent < 16 * 1024 * 1024, (path, r.sent)


def test_a_revoked_key_is_401_too(live_api, live):
    token = live_api.key("supervisor")
    keys = live_api.get("/keys").json()["data"]
    key_id = next(k["id"] for k in keys if k["role"] == "supervisor")
    live_api.delete(f"/keys/{key_id}", expect=204)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    r = send(live.url, "POST", "/api/v1/items", headers, chunks(BIG))
    assert r.status == 401 and r.sent < 16 * 1024 * 1024


def test_a_known_token_gets_its_body_read(live_api, live):
    headers = {
        "Authorization": f"Bearer {live_api.admin_token}",
        "Content-Type": "application/json",
    }
    body = b'{"title": "\xe9\xa3\x9f\xe5\xa0\x82", "source": "audit"}'
    r = send(live.url, "POST", "/api/v1/items", headers, [body[:10], body[10:]])
    assert r.status == 201, r.body
