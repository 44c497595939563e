"""Unit aliases (PATCH /units/{code} {"aliases":[...]}): each alias belongs to one unit."""

import pytest

from tests.factories import assert_problem

pytestmark = pytest.mark.db


def test_aliases_are_set_replaced_listed_and_unique(api):
    api.unit("zjj", "市住房和城乡建设局")
    api.unit("jyj", "市教育局")
    got = api.patch(
        "/units/zjj", json={"aliases": ["市住建局", " 住建局 ", "市住建局"]}, expect=200
    ).json()
    assert sorted(got["aliases"]) == ["住建局", "市住建局"]
    assert sorted(api.get("/units/zjj", expect=200).json()["aliases"]) == ["住建局", "市住建局"]
    body = assert_problem(api.patch("/units/jyj", json={"aliases": ["教育局", "住建局"]}), 409)
    assert "住建局" in body["detail"] and "zjj" in body["detail"]
    assert api.get("/units/jyj", expect=200).json()["aliases"] == []
    api.patch("/units/zjj", json={"aliases": ["市住建局"]}, expect=200)
    api.patch("/units/jyj", json={"aliases": ["住建局"]}, expect=200)  # freed above
    listed = {u["code"]: u["aliases"] for u in api.get("/units", expect=200).json()["data"]}
    assert listed == {"zjj": ["市住建局"], "jyj": ["住建局"]}
    api.patch("/units/zjj", json={"name": "市住建局（新）"}, expect=200)
    assert api.get("/units/zjj", expect=200).json()["aliases"] == ["市住建局"]


def test_blank_aliases_are_422_and_only_admins_set_them(api):
    api.unit("zjj", "市住房和城乡建设局")
    assert_problem(api.patch("/units/zjj", json={"aliases": [" "]}), 422)
    sup = api.key("supervisor")
    assert_problem(api.patch("/units/zjj", json={"aliases": ["住建局"]}, token=sup), 403)


def test_an_alias_may_not_be_another_units_code_or_name_nor_they_its_alias(api):
    """A ledger's 责任单位 is matched by code, then exact name, then alias: an alias that
    is another unit's code or name would never name its unit, and a unit created or
    renamed to another's alias would take that alias's rows silently. All are 409."""
    api.unit("zjj", "市住房和城乡建设局")
    api.unit("court", "市中级人民法院")
    for alias, why in (("court", "code"), ("市中级人民法院", "name")):
        body = assert_problem(api.patch("/units/zjj", json={"aliases": ["住建局", alias]}), 409)
        assert body["errors"] == [{"field": "aliases", "message": f"{alias} is the {why} of court"}]
    assert api.get("/units/zjj", expect=200).json()["aliases"] == []
    # its own code or name is no clash (the alias is idle, not misleading)
    aliases = ["住建局", "zj", "zjj", "市住房和城乡建设局"]
    api.patch("/units/zjj", json={"aliases": aliases}, expect=200)
    body = assert_problem(api.post("/units", json={"code": "zj", "name": "某单位"}), 409)
    assert body["errors"] == [{"field": "code", "message": "zj is an alias of zjj"}]
    body = assert_problem(api.post("/units", json={"code": "x", "name": "住建局"}), 409)
    assert body["errors"] == [{"field": "name", "message": "住建局 is an alias of zjj"}]
    body = assert_problem(api.patch("/units/court", json={"name": "住建局"}), 409)
    assert body["errors"] == [{"field": "name", "message": "住建局 is an alias of zjj"}]
    assert api.get("/units/court", expect=200).json()["name"] == "市中级人民法院"
