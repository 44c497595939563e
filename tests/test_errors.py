"""Every 4xx/5xx is application/problem+json; nothing internal reaches a client."""

import logging

import pytest

from app.items import service
from tests.factories import assert_problem


@pytest.fixture(scope="module")
def api(shared_api):
    return shared_api


def test_unknown_route_and_wrong_method_are_problems(api):
    assert_problem(api.get("/nothing-here"), 404)
    assert_problem(api.call("PUT", "/items"), 405)
    assert_problem(api.client.get("/nothing-here"), 404)


def test_a_validation_error_lists_fields_and_messages(api):
    r = api.post("/items", json={"title": "", "source": "newspaper", "colour": "red"})
    problem = assert_problem(r, 422)
    assert problem["type"].startswith(("http://", "https://", "about:"))
    fields = {e["field"] for e in problem["errors"]}
    assert {"title", "source", "colour"} <= fields
    assert all(isinstance(e["message"], str) and e["message"] for e in problem["errors"])


def test_an_unexpected_error_is_a_500_problem_without_internals(api, monkeypatch, caplog):
    def explode(*_a, **_kw):
        raise RuntimeError("password=hunter2 at /srv/rectify/app/items/service.py line 42")

    monkeypatch.setattr(service, "list_items", explode)
    with caplog.at_level(logging.ERROR):
        r = api.get("/items")
    problem = assert_problem(r, 500)
    for secret in ("hunter2", "service.py", "RuntimeError", "line 42"):
        assert secret not in r.text
    assert problem["detail"]
    assert any("hunter2" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


@pytest.mark.parametrize("path", ["/items/1", "/units/x", "/keys/999999", "/workflows/nope"])
def test_not_found_is_a_problem(api, path):
    method = "DELETE" if path.startswith("/keys") else "GET"
    assert_problem(api.call(method, path), 404)
