"""Ids and cursors outside the database's integer range are 404 / 400, and text
with NUL or another control character is 422 naming the field: on a real
server, on every backend, for every id route and every string field of every
JSON body the OpenAPI document declares."""

import base64
import json

import pytest

from app.main import create_app

HUGE = [2**31, 2**63, 2**64, 10**30]
CONTROL = ["\x00", "\x1b", "\x7f", "\x85"]
_SCHEMA = create_app().openapi()
_COMPONENTS = _SCHEMA["components"]["schemas"]


def _operations():
    for path, ops in _SCHEMA["paths"].items():
        for method, op in ops.items():
            yield path, method.upper(), op


def _int_params(op) -> list[str]:
    return [
        p["name"]
        for p in op.get("parameters", [])
        if p["in"] == "path" and p["schema"].get("type") == "integer"
    ]


ID_ROUTES = [(m, p) for p, m, op in _operations() if _int_params(op)]


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = _COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _paths_of(kind: str, schema: dict, prefix: tuple = ()) -> list[tuple]:
    """Paths (keys and list indexes) to every value of JSON type ``kind`` (free text:
    not an enum nor a file) a body of ``schema`` may hold."""
    schema = _resolve(schema)
    found: list[tuple] = []
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found += _paths_of(kind, option, prefix)
    here = schema.get("type")
    if here == kind and "enum" not in schema and schema.get("format") != "binary":
        found.append(prefix)
    elif here == "array" and "items" in schema:
        found += _paths_of(kind, schema["items"], (*prefix, 0))
    elif here == "object":
        for name, sub in schema.get("properties", {}).items():
            found += _paths_of(kind, sub, (*prefix, name))
    return list(dict.fromkeys(found))


def _body_fields(kind: str):
    for path, method, op in _operations():
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            for field in _paths_of(kind, content["application/json"]["schema"]):
                if field:
                    yield method, path, field


TEXT_FIELDS = list(_body_fields("string"))
INT_FIELDS = list(_body_fields("integer"))


def _body(field: tuple, value: str):
    body: object = value
    for part in reversed(field):
        body = [body] if isinstance(part, int) else {part: body}
    return body


@pytest.fixture
def ids(live_api):
    item = live_api.item()
    live_api.unit("court", "法院")
    return {
        "item_id": item["id"],
        "ext_id": 1,
        "sub_id": 1,
        "key_id": 1,
        "code": "court",
        "day": "2026-05-06",
        "name": "rectification",
        "evidence_id": 1,
        "delivery_id": 1,
        "measure_id": 1,
        "progress_id": 1,
        "year": 2031,
    }


def test_every_id_route_and_every_text_field_is_covered():
    assert len(ID_ROUTES) >= 20
    assert {f for _m, _p, f in TEXT_FIELDS} >= {("title",), ("comment",), ("tags", 0), ("url",)}
    assert {f for _m, _p, f in INT_FIELDS} >= {("into",), ("percent",), ("ids", 0), ("level",)}


@pytest.mark.parametrize(("method", "path"), ID_ROUTES, ids=[f"{m} {p}" for m, p in ID_ROUTES])
def test_ids_out_of_range_are_404(live_api, method, path):
    for value in HUGE:
        url = path.replace("/api/v1", "")
        for name in (
            "item_id",
            "evidence_id",
            "ext_id",
            "sub_id",
            "delivery_id",
            "key_id",
            "measure_id",
        ):
            url = url.replace("{" + name + "}", str(value))
        kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = live_api.call(method, url, **kw)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_forged_cursors_out_of_range_are_400(live_api):
    sub = live_api.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}, expect=201
    ).json()
    for value in HUGE:
        for url, param, kind in [
            ("/items", "cursor", "i"),
            ("/admin/escalations", "cursor", "i"),
            ("/events", "after", "e"),
            (f"/webhooks/{sub['id']}/deliveries", "cursor", "d"),
        ]:
            r = live_api.get(url, params={param: _cursor(f"{kind}:{value}")})
            assert r.status_code == 400, (url, value, r.status_code, r.text)


@pytest.mark.parametrize(
    ("method", "path", "field"), TEXT_FIELDS, ids=[f"{m} {p} {f}" for m, p, f in TEXT_FIELDS]
)
def test_control_characters_in_any_text_field_are_422_naming_it(live_api, ids, method, path, field):
    url = path.replace("/api/v1", "").format(**ids)
    for char in CONTROL:
        r = live_api.call(method, url, json=_body(field, f"a{char}b"))
        assert r.status_code == 422, (method, url, field, repr(char), r.status_code, r.text)
        named = [e["field"] for e in r.json()["errors"]]
        assert ".".join(map(str, field)) in named, (field, named)


@pytest.mark.parametrize(
    ("method", "path", "field"), TEXT_FIELDS, ids=[f"{m} {p} {f}" for m, p, f in TEXT_FIELDS]
)
def test_a_lone_surrogate_in_any_text_field_is_422_naming_it(live_api, ids, method, path, field):
    """``"\\ud800"`` is valid JSON but no text: UTF-8 cannot hold it, so nothing could
    store it (it was a 500 inside a list, ``tags``). A pair (an emoji) is one character."""
    url = path.replace("/api/v1", "").format(**ids)
    for lone in ("\ud800", "\udc80", "a\udbffb"):
        raw = json.dumps(_body(field, lone)).encode()  # ASCII: the surrogate as its escape
        r = live_api.call(method, url, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (method, url, field, repr(lone), r.status_code, r.text)
        assert ".".join(map(str, field)) in [e["field"] for e in r.json()["errors"]]


def test_a_surrogate_pair_is_one_character_and_round_trips(live_api):
    raw = json.dumps({"title": "整改😀", "source": "audit", "tags": ["😀"]}).encode()
    assert b"\\ud83d\\ude00" in raw
    r = live_api.post("/items", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert (r.json()["title"], r.json()["tags"]) == ("整改😀", ["😀"])


@pytest.mark.parametrize(
    ("method", "path", "field"), INT_FIELDS, ids=[f"{m} {p} {f}" for m, p, f in INT_FIELDS]
)
def test_a_number_field_takes_only_a_json_number(live_api, ids, method, path, field):
    """``true`` is not item 1 nor ``"50"`` fifty per cent: pydantic's lax mode reads
    them so, a client that sends them has a bug it must hear about."""
    url = path.replace("/api/v1", "").format(**ids)
    for value in (True, "1", 1.5):
        r = live_api.call(method, url, json=_body(field, value))
        assert r.status_code == 422, (method, url, field, value, r.status_code, r.text)
        named = [e["field"] for e in r.json()["errors"]]
        assert ".".join(map(str, field)) in named, (field, named)


def test_tab_newline_and_carriage_return_are_text(live_api):
    item = live_api.item(title="a\tb", description="第一行\r\n第二行")
    assert item["description"] == "第一行\r\n第二行"


@pytest.mark.parametrize("char", ["%00", "%1b", "%7F"])
def test_control_characters_in_paths_and_queries(live_api, char):
    assert live_api.get(f"/units/court{char}").status_code == 404
    assert live_api.get(f"/items?q=a{char}b").status_code == 400
    assert live_api.get(f"/items?campaign=a{char}b").status_code == 400


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_a_json_body_in_another_encoding_than_utf8_is_400(live_api, encoding):
    """UTF-16 or UTF-32 JSON would parse, past the control-character check."""
    body = json.dumps({"title": "a\x00b\x07", "source": "audit"}).encode(encoding)
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", "/items"), ("POST", "/keys"), ("POST", "/webhooks")):
        r = live_api.call(method, path, content=body, headers=headers)
        assert r.status_code == 400, (encoding, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert "UTF-8" in r.json()["detail"]
    assert (
        live_api.call(
            "POST",
            "/items",
            content=b"\xef\xbb\xbf" + body.decode(encoding).encode("utf-8"),
            headers=headers,
        ).status_code
        == 422
    )  # UTF-8 (a BOM too): checked as ever


def test_a_trailing_slash_is_404_not_a_redirect_to_the_clients_host(live_api):
    r = live_api.get("/items/", headers={"Host": "evil.example"})
    assert r.status_code == 404 and "location" not in r.headers


def test_a_utf8_byte_order_mark_is_ignored_alike_by_every_json_endpoint(live_api):
    """FastAPI's parser ignores it (RFC 8259 8.1 lets a parser); the endpoints that parse
    their body themselves (transitions, batch) did not: 400 there, 201 on POST /items."""
    bom, headers = b"\xef\xbb\xbf", {"Content-Type": "application/json"}
    live_api.unit("court", "法院")
    item = bom + json.dumps({"title": "t", "source": "audit"}).encode()
    created = live_api.post("/items", content=item, headers=headers)
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    body = bom + json.dumps({"action": "assign", "unit_code": "court"}).encode()
    r = live_api.post(f"/items/{iid}/transitions", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["state"] == "assigned", r.text
    body = bom + json.dumps({"action": "urge", "ids": [iid]}).encode()
    r = live_api.post("/items/batch", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["succeeded"] == 1, r.text
