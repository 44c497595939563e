"""/docs and /redoc work offline; the OpenAPI document is one generators accept."""

import re

import pytest
from fastapi.testclient import TestClient

from app.db import make_engine
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.factories import Api

METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def client():
    """The app without its start-up (no database needed to serve the documents)."""
    engine = make_engine("sqlite://")
    yield TestClient(create_app(engine, migrate=False))
    engine.dispose()


@pytest.fixture(scope="module")
def document(client) -> dict:
    return client.get("/openapi.json").json()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service(client, page):
    r = client.get(page)
    assert r.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
    urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", r.text)
    urls += re.findall(r"""spec-url=["']([^"']+)["']""", r.text)
    assert urls, r.text
    for url in urls:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = client.get(url)
        assert asset.status_code == 200, url
    assert "cdn" not in r.text.lower() and "fonts.googleapis" not in r.text


def test_the_bearer_scheme_is_declared_on_every_api_operation(document):
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if path.startswith("/api/v1"):
                assert op["security"] == [{"bearer": []}], (method, path)


def test_operation_ids_are_short_and_unique(document):
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z_]{1,30}", i) for i in ids), ids
    assert {"create_item", "transition", "upload_evidence", "download_evidence"} <= set(ids)


def test_every_2xx_body_has_a_schema_and_201s_are_documented(document):
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if not status.startswith("2") or status in ("202", "204"):
                    continue
                assert response.get("content"), (method, path, status)
                for media, body in response["content"].items():
                    assert body.get("schema"), (method, path, status, media)
    statuses = {
        (m, p): set(op["responses"])
        for p, ops in document["paths"].items()
        for m, op in ops.items()
    }
    for created in [
        ("post", "/api/v1/items"),
        ("post", "/api/v1/items/import"),
        ("post", "/api/v1/items/{item_id}/evidence"),
        ("post", "/api/v1/items/{item_id}/extensions"),
        ("post", "/api/v1/keys"),
        ("post", "/api/v1/units"),
        ("post", "/api/v1/webhooks"),
    ]:
        assert "201" in statuses[created], created
        assert "Location" in document["paths"][created[1]]["post"]["responses"]["201"]["headers"]
    assert "304" in statuses["get", "/api/v1/items/{item_id}"]


def _multipart_file(document: dict, path: str) -> dict:
    body = document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    return document["components"]["schemas"][name]["properties"]["file"]


def test_uploads_are_binary_and_downloads_have_their_media_types(document):
    for path in ("/api/v1/items/{item_id}/evidence", "/api/v1/items/import"):
        assert _multipart_file(document, path)["format"] == "binary"
    download = document["paths"]["/api/v1/items/{item_id}/evidence/{evidence_id}"]["get"]
    assert download["responses"]["200"]["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    export = document["paths"]["/api/v1/items/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
    }


def test_item_responses_document_the_etag_header(document):
    for method, path in [
        ("post", "/api/v1/items"),
        ("get", "/api/v1/items/{item_id}"),
        ("patch", "/api/v1/items/{item_id}"),
        ("post", "/api/v1/items/{item_id}/transitions"),
        ("post", "/api/v1/admin/items/{item_id}/escalate"),
    ]:
        responses = document["paths"][path][method]["responses"]
        ok = responses["201" if "201" in responses else "200"]
        assert "ETag" in ok["headers"], (method, path)


def _documented(document: dict, method: str, path: str) -> set[int]:
    responses = document["paths"][path][method.lower()]["responses"]
    return {int(status) for status in responses}


BIG = "长" * 400_000
"""A JSON text over the default 1024 KB body limit."""

# (method, documented path, request path or a function of the test's item id, what to
# send, the status it answers). Each status must be one the operation documents.
PROVOKED = [
    ("GET", "/api/v1/me", "/me", {"token": None}, 401),
    ("GET", "/api/v1/items", "/items?tg=x", {}, 400),
    ("GET", "/api/v1/items/{item_id}", "/items/2147483647", {}, 404),
    ("GET", "/api/v1/units/{code}", "/units/nope", {}, 404),
    ("POST", "/api/v1/items", "/items", {"json": {"source": "audit"}}, 422),
    ("POST", "/api/v1/items", "/items", {"content": b"{", "ctype": "json"}, 400),
    ("POST", "/api/v1/items", "/items", {"json": {"title": BIG, "source": "audit"}}, 413),
    (
        "POST",
        "/api/v1/items",
        "/items",
        {"json": {"title": "x", "source": "audit"}, "as": "viewer"},
        403,
    ),
    ("POST", "/api/v1/units", "/units", {"json": {"code": "dup", "name": "重复"}}, 409),
    (
        "PATCH",
        "/api/v1/items/{item_id}",
        "item:",
        {"json": {"title": "改"}, "if_match": '"99"'},
        412,
    ),
    (
        "POST",
        "/api/v1/items/{item_id}/transitions",
        "item:/transitions",
        {"json": {"action": "accept"}},
        409,
    ),
    ("DELETE", "/api/v1/webhooks/{sub_id}", "/webhooks/2147483647", {}, 404),
    ("POST", "/api/v1/admin/scheduler/tick", "/admin/scheduler/tick", {"as": "viewer"}, 403),
]


@pytest.fixture
def db_api(engine):
    """An ``Api`` over this test's database (the module's ``client`` has none)."""
    with TestClient(create_app(engine, migrate=False), raise_server_exceptions=False) as c:
        yield Api(c, ADMIN_TOKEN)


def test_every_status_an_operation_answers_is_documented(db_api, document):
    """Hostile and mistaken requests to a sample of operations, on a database: whatever
    each answers is among its documented responses."""
    api = db_api
    api.unit("dup")
    item = api.item()
    viewer = api.key("viewer")
    for method, path, target, send, status in PROVOKED:
        url = target.replace("item:", f"/items/{item['id']}")
        token = viewer if send.get("as") == "viewer" else send.get("token", "admin")
        headers = {"If-Match": send["if_match"]} if "if_match" in send else {}
        kw = {"json": send["json"]} if "json" in send else {}
        if "content" in send:
            kw = {"content": send["content"]}
            headers["Content-Type"] = "application/json"
        r = api.call(method, url, token=token, headers=headers, **kw)
        assert r.status_code == status, (method, url, r.status_code, r.text[:300])
        assert status in _documented(document, method, path), (method, path, status)


# Statuses these operations cannot answer, so must not document: no token is read
# (401/403), no path id (404), no body (413/422), no If-Match (412), no database (503).
NOT_DOCUMENTED = [
    ("GET", "/healthz", {401, 403, 404, 413, 422, 503}),
    ("GET", "/api/v1/me", {404, 409, 412, 413, 422}),
    ("GET", "/api/v1/units", {404, 409, 412, 413, 422}),
    ("GET", "/api/v1/items", {404, 409, 412, 413, 422}),
    ("GET", "/api/v1/items/{item_id}", {409, 412, 413, 422}),
    ("POST", "/api/v1/items", {404, 412}),
    ("DELETE", "/api/v1/webhooks/{sub_id}", {400, 409, 412, 413, 422}),
    ("POST", "/api/v1/webhooks/{sub_id}/rotate-secret", {400, 409, 412, 413, 422}),
    ("GET", "/api/v1/reports/summary", {404, 409, 412, 413, 422}),
]


@pytest.mark.parametrize(("method", "path", "impossible"), NOT_DOCUMENTED)
def test_operations_do_not_document_statuses_they_cannot_answer(document, method, path, impossible):
    documented = _documented(document, method, path)
    assert not documented & impossible, (method, path, sorted(documented & impossible))
    assert 428 not in documented  # no operation requires If-Match


def test_documented_statuses_follow_what_the_operation_takes(document):
    """Derived from each route: 401/403 exactly where a token is read, 413/422 where a
    body is, 412 where If-Match is, 503 wherever the database is used."""
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            statuses = {int(s) for s in op["responses"]}
            body = "requestBody" in op
            if_match = any(p["name"] == "If-Match" for p in op.get("parameters", []))
            authenticated = path.startswith("/api/v1")
            where = (method, path)
            assert ({401, 403} <= statuses) == authenticated, where
            assert (401 in statuses) == authenticated, where
            assert ({413, 422} <= statuses) == body and (422 in statuses) == body, where
            assert (412 in statuses) == if_match, where
            if authenticated:
                assert 503 in statuses, where
            if 404 in statuses and "{" not in path:
                assert path.endswith("/admin/clock"), where  # the test clock, when off
