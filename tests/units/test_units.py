"""Responsible units: codes, hierarchy, moves (scope follows), no cycles.

The module shares one database per backend; each test names its own units.
"""

from itertools import count

import pytest

from tests.factories import assert_problem

_n = count(1)


@pytest.fixture(scope="module")
def api(shared_api):
    return shared_api


@pytest.fixture
def c():
    """Unique unit codes for this test: ``c("city")`` -> ``"t7-city"``."""
    prefix = f"t{next(_n)}"
    return lambda name: f"{prefix}-{name}"


def test_create_get_list(api, c):
    r = api.post("/units", json={"code": c("city"), "name": "某市"})
    assert r.status_code == 201, r.text
    city = r.json()
    assert {"code", "name", "parent_code", "created_at"} <= city.keys()
    assert (city["code"], city["name"], city["parent_code"]) == (c("city"), "某市", None)
    court = api.unit(c("court"), "市中级人民法院", parent=c("city"))
    assert court["parent_code"] == c("city")
    assert api.get(f"/units/{c('court')}", expect=200).json() == court
    listed = api.get("/units", token=api.key("viewer"), expect=200).json()
    assert listed["count"] == len(listed["data"])
    assert {c("city"), c("court")} <= {u["code"] for u in listed["data"]}
    assert_problem(api.get(f"/units/{c('nowhere')}"), 404)


def test_a_duplicate_code_is_409(api, c):
    api.unit(c("court"))
    assert_problem(api.post("/units", json={"code": c("court"), "name": "另一个"}), 409)


def test_the_parent_must_exist(api, c):
    r = api.post("/units", json={"code": c("court"), "name": "法院", "parent_code": c("none")})
    assert {e["field"] for e in assert_problem(r, 422)["errors"]} == {"parent_code"}
    assert_problem(api.get(f"/units/{c('court')}"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"code": "", "name": "x"},
        {"code": "a b", "name": "x"},
        {"code": "a/b", "name": "x"},
        {"code": "x" * 65, "name": "x"},
        {"code": "ok1", "name": ""},
        {"code": "ok2"},
        {"name": "x"},
    ],
)
def test_invalid_units_are_422(api, body):
    assert_problem(api.post("/units", json=body), 422)


@pytest.mark.parametrize("role", ["supervisor", "viewer"])
def test_only_admin_creates_and_edits_units(api, c, role):
    api.unit(c("city"))
    token = api.key(role)
    assert_problem(api.post("/units", token=token, json={"code": c("x"), "name": "x"}), 403)
    assert_problem(api.patch(f"/units/{c('city')}", token=token, json={"name": "y"}), 403)
    assert api.get("/units", token=token).status_code == 200


def test_patch_renames(api, c):
    api.unit(c("court"), "旧名")
    r = api.patch(f"/units/{c('court')}", json={"name": "市中级人民法院"})
    assert r.status_code == 200 and r.json()["name"] == "市中级人民法院"
    assert_problem(api.patch(f"/units/{c('nowhere')}", json={"name": "x"}), 404)


@pytest.mark.parametrize("body", [{"code": "renamed"}, {"bogus": 1}, {"name": "新名", "x": 2}])
def test_patch_refuses_fields_it_cannot_change(api, c, body):
    """A rename of the code, or a misspelt field, answered 200 and changed nothing."""
    api.unit(c("court"), "旧名")
    problem = assert_problem(api.patch(f"/units/{c('court')}", json=body), 422)
    assert problem["errors"][0]["field"] in body
    assert api.get(f"/units/{c('court')}").json()["name"] == "旧名"


def test_moving_a_unit_moves_its_subtree_and_scope_follows(api, c):
    api.unit(c("city"))
    api.unit(c("county"))
    api.unit(c("bureau"), parent=c("city"))
    api.unit(c("office"), parent=c("bureau"))
    sup = api.key("supervisor")
    city, county = api.key("unit", c("city")), api.key("unit", c("county"))
    item = api.item(sup)
    api.act(item["id"], "assign", sup, unit_code=c("office"))
    path = f"/items/{item['id']}"
    assert api.get(path, token=city).status_code == 200
    assert_problem(api.get(path, token=county), 404)

    r = api.patch(f"/units/{c('bureau')}", json={"parent_code": c("county")})
    assert r.status_code == 200 and r.json()["parent_code"] == c("county")

    assert api.get(f"/units/{c('office')}").json()["parent_code"] == c("bureau")
    assert api.get(path, token=county).status_code == 200
    assert_problem(api.get(path, token=city), 404)
    listed = api.get("/items", params={"unit": c("county")}).json()["data"]
    assert [i["id"] for i in listed] == [item["id"]]
    assert api.get("/items", params={"unit": c("city")}).json()["data"] == []

    r = api.patch(f"/units/{c('bureau')}", json={"parent_code": None})
    assert r.status_code == 200 and r.json()["parent_code"] is None
    assert_problem(api.get(path, token=county), 404)


@pytest.mark.parametrize("new_parent", ["a", "b", "c"])
def test_a_unit_cannot_move_under_itself_or_a_descendant(api, c, new_parent):
    api.unit(c("a"))
    api.unit(c("b"), parent=c("a"))
    api.unit(c("c"), parent=c("b"))
    r = api.patch(f"/units/{c('a')}", json={"parent_code": c(new_parent)})
    assert {e["field"] for e in assert_problem(r, 422)["errors"]} == {"parent_code"}
    assert api.get(f"/units/{c('a')}").json()["parent_code"] is None
    assert api.get(f"/units/{c('c')}").json()["parent_code"] == c("b")


def test_moving_under_an_unknown_parent_is_422(api, c):
    api.unit(c("a"))
    assert_problem(api.patch(f"/units/{c('a')}", json={"parent_code": c("nowhere")}), 422)


def test_codes_that_differ_only_in_case_are_different_units_with_their_own_scope(api, c):
    """A unit key sees its own subtree only: "Court" is not "court" (SQLite's LIKE
    ignores ASCII case unless told otherwise)."""
    lower, upper = c("court"), c("court").upper()
    api.unit(lower)
    api.unit(upper)
    sup = api.key("supervisor")
    item = api.item(sup)
    api.act(item["id"], "assign", sup, unit_code=lower)
    stranger = api.key("unit", upper)
    assert_problem(api.get(f"/items/{item['id']}", token=stranger), 404)
    assert api.get("/items", token=stranger).json()["data"] == []
    assert api.get("/items", params={"unit": upper}).json()["data"] == []
    assert [i["id"] for i in api.get("/items", params={"unit": lower}).json()["data"]] == [
        item["id"]
    ]
    assert api.get("/admin/escalations", params={"level": 0, "unit": upper}).json()["data"] == []
