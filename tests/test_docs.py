"""/docs and /redoc work offline; the OpenAPI document is one generators accept."""

import re

import pytest
from fastapi.testclient import TestClient

from app.db import make_engine
from app.main import create_app

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
