"""What a browser app on another origin needs: CORS for the configured origins,
``Location`` on every 201, ``ETag`` readable, 304 on a matching If-None-Match."""

import pytest
from fastapi.testclient import TestClient

from app.cors import ALLOW_HEADERS, EXPOSE_HEADERS
from app.main import create_app
from app.settings import get_settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import DUE, Api, assert_problem, make_world

APP = "https://rectify-app.example.gov"
OTHER = "https://evil.example.com"
CORS_HEADERS = {
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
    "access-control-allow-credentials",
}


@pytest.fixture
def cors_api(engine, monkeypatch) -> Api:
    monkeypatch.setenv("RECTIFY_CORS_ORIGINS", f"{APP}, http://127.0.0.1:5173")
    get_settings.cache_clear()
    with TestClient(create_app(engine, migrate=False), raise_server_exceptions=False) as c:
        yield Api(c, ADMIN_TOKEN)


def _preflight(api: Api, origin: str, path: str = "/api/v1/items", method: str = "POST"):
    return api.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/items", "/api/v1/items/1/transitions"])
def test_a_listed_origin_gets_its_preflight(cors_api, path):
    r = _preflight(cors_api, APP, path)
    assert 200 <= r.status_code < 300
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["x-content-type-options"] == "nosniff"  # every response carries it
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert allowed == {h.strip().lower() for h in ALLOW_HEADERS.split(",")}
    assert allowed == {
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
        "accept-language",
    }
    assert "origin" in r.headers["vary"].lower()


def test_responses_to_a_listed_origin_expose_the_headers_a_script_reads(cors_api):
    api = cors_api
    r = api.post("/items", json={"title": "跨域创建", "source": "audit"}, headers={"Origin": APP})
    assert r.status_code == 201
    assert r.headers["access-control-allow-origin"] == APP
    exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
    assert exposed == {
        "ETag",
        "Location",
        "Idempotent-Replayed",
        "Retry-After",
        "Content-Disposition",
    }
    assert exposed == {h.strip() for h in EXPOSE_HEADERS.split(",")}
    assert "origin" in r.headers["vary"].lower()
    # errors carry them too, or the script could not read the problem
    r = api.client.get("/api/v1/me", headers={"Origin": APP})
    assert_problem(r, 401)
    assert r.headers["access-control-allow-origin"] == APP


def test_other_origins_get_no_cors_headers(cors_api):
    r = _preflight(cors_api, OTHER)
    assert not CORS_HEADERS & {h.lower() for h in r.headers}
    r = cors_api.get("/me", headers={"Origin": OTHER}, expect=200)
    assert not CORS_HEADERS & {h.lower() for h in r.headers}
    assert "origin" in r.headers["vary"].lower()
    r = cors_api.get("/me", headers={"Origin": "https://rectify-app.example.gov.evil.com"})
    assert "access-control-allow-origin" not in r.headers


def test_without_configured_origins_there_is_no_cors(api):
    r = _preflight(api, APP)
    assert "access-control-allow-origin" not in r.headers
    r = api.get("/me", headers={"Origin": APP}, expect=200)
    assert "access-control-allow-origin" not in r.headers


def test_every_201_carries_location(api):
    world = make_world(api)
    checks = []

    r = api.post("/units", json={"code": "loc-u", "name": "定位单位"}, expect=201)
    checks.append((r, "/api/v1/units/loc-u"))
    r = api.post("/keys", json={"name": "loc", "role": "viewer"}, expect=201)
    checks.append((r, f"/api/v1/keys/{r.json()['id']}"))
    r = api.post("/items", json={"title": "定位", "source": "audit"}, expect=201)
    item_id = r.json()["id"]
    checks.append((r, f"/api/v1/items/{item_id}"))
    api.act(item_id, "assign", world.sup, unit_code="court", due_date=DUE)
    api.act(item_id, "accept", world.unit)
    r = api.evidence(item_id, world.unit)
    checks.append((r, f"/api/v1/items/{item_id}/evidence/{r.json()['id']}"))
    r = api.post(
        f"/items/{item_id}/extensions",
        token=world.unit,
        json={"due_date": "2026-05-29", "reason": "需要更多时间"},
        expect=201,
    )
    checks.append((r, f"/api/v1/items/{item_id}/extensions/{r.json()['id']}"))
    r = api.post(f"/items/{item_id}/measures", json={"title": "建章立制", "kind": "long_term"})
    checks.append((r, f"/api/v1/items/{item_id}/measures/{r.json()['id']}"))
    r = api.post("/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}, expect=201)
    checks.append((r, f"/api/v1/webhooks/{r.json()['id']}"))
    csv = "标题,来源\n导入的问题,审计\n".encode("utf-8-sig")
    r = api.post("/items/import", files={"file": ("l.csv", csv, "text/csv")}, expect=201)
    checks.append((r, "/api/v1/items"))

    for response, location in checks:
        assert response.headers["location"] == location, response.request.url
    for response, location in checks[:-1]:  # each names what was made, readable there
        got = api.client.get(location, headers=api.headers(ADMIN_TOKEN))
        assert got.status_code == 200, (location, got.status_code)
        if got.headers["content-type"].startswith("application/json"):  # (evidence: its bytes)
            made = response.json()
            key = "id" if "id" in made else "code"  # a unit is named by its code
            assert got.json()[key] == made[key], location


def test_get_item_answers_304_to_a_matching_if_none_match(api):
    item = api.item()
    r = api.get(f"/items/{item['id']}", expect=200)
    etag = r.headers["etag"]
    assert etag == f'"{item["version"]}"'
    r = api.get(f"/items/{item['id']}", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    r = api.get(f"/items/{item['id']}", headers={"If-None-Match": f'"x", W/{etag}'})
    assert r.status_code == 304
    api.patch(f"/items/{item['id']}", json={"title": "改了"}, expect=200)
    r = api.get(f"/items/{item['id']}", headers={"If-None-Match": etag}, expect=200)
    assert r.headers["etag"] != etag and r.json()["title"] == "改了"


def test_the_guards_refusals_carry_cors_headers_too(cors_api, monkeypatch):
    """The guard answers before any route (token before body, body limits); CORS is
    outside it, or a script could not read those refusals either."""
    client = cors_api.client
    r = client.post("/api/v1/items", json={"title": "无令牌"}, headers={"Origin": APP})
    assert_problem(r, 401)
    assert r.headers["access-control-allow-origin"] == APP
    big = {"title": "大", "description": "x" * (get_settings().max_json_bytes + 1)}
    r = cors_api.post("/items", json=big, headers={"Origin": APP})
    assert_problem(r, 413)
    assert r.headers["access-control-allow-origin"] == APP
    r = cors_api.get("/items", params={"tg": "typo"}, headers={"Origin": APP})
    assert_problem(r, 400)
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_preflight_with_a_query_string_is_not_refused(cors_api):
    r = _preflight(cors_api, APP, "/api/v1/items?state=submitted&tg=typo", method="GET")
    assert 200 <= r.status_code < 300
    assert r.headers["access-control-allow-origin"] == APP
