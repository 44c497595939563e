"""外部编号 (external_ref) is unique among items: a second one is 409 naming the first."""

import pytest

from tests.factories import assert_problem

pytestmark = pytest.mark.db


def test_creating_a_second_item_with_a_used_external_ref_is_409_naming_the_first(api):
    first = api.item(external_ref="12345-20260301-0007")
    r = api.post(
        "/items",
        json={"title": "噪音扰民", "source": "hotline", "external_ref": " 12345-20260301-0007 "},
    )
    body = assert_problem(r, 409)
    assert body["existing_number"] == first["number"] and first["number"] in body["detail"]
    assert body["errors"][0]["field"] == "external_ref"
    assert len(api.get("/items", expect=200).json()["data"]) == 1


def test_blank_external_refs_are_none_and_many_items_may_have_none(api):
    a = api.item(external_ref="  ")
    b = api.item()
    assert a["external_ref"] is None and b["external_ref"] is None
