"""Operations endpoints and the API description."""

import pytest


@pytest.fixture(scope="module")
def client(shared_api):
    return shared_api.client


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_readyz_reports_the_database_at_head(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    migrations = body["detail"]["migrations"]
    assert migrations["current"] == migrations["head"] is not None


def test_openapi_describes_the_item_endpoints(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in (
        "/api/v1/items",
        "/api/v1/items/{item_id}",
        "/api/v1/items/{item_id}/transitions",
        "/api/v1/items/{item_id}/actions",
        "/api/v1/items/{item_id}/history",
        "/api/v1/items/{item_id}/history/verify",
        "/api/v1/items/{item_id}/evidence",
        "/api/v1/units",
        "/api/v1/keys",
        "/api/v1/me",
        "/api/v1/workflows",
    ):
        assert path in paths, path


def test_docs_page(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "openapi.json" in r.text
