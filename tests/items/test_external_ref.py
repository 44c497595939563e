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


@pytest.mark.parametrize(
    "look_alike",
    [
        "HX-2026-０００１",  # full-width digits, as a Chinese input method types them
        "ＨＸ-2026-0001",  # full-width letters
        "HX‐2026‐0001",  # U+2010 hyphens
        "HX－2026－0001",  # full-width hyphen-minus
        "HX-2026-0001\u200b",  # a zero-width space pasted along
        "\ufeffHX-2026-0001",  # a byte-order mark
    ],
)
def test_a_look_alike_of_a_used_external_ref_is_the_same_ref(api, look_alike):
    """A ref is kept in one written form (NFKC, dashes as "-", no format characters),
    so a second item cannot take one by typing it differently; searches find it so."""
    first = api.item(external_ref="HX-2026-0001")
    r = api.post(
        "/items", json={"title": "同一工单", "source": "hotline", "external_ref": look_alike}
    )
    assert assert_problem(r, 409)["existing_number"] == first["number"]
    found = api.get("/items", params={"external_ref": look_alike}, expect=200).json()["data"]
    assert [i["id"] for i in found] == [first["id"]]


def test_composed_and_decomposed_accents_are_one_ref(api):
    api.item(external_ref="café-1")
    assert_problem(
        api.post("/items", json={"title": "x", "source": "audit", "external_ref": "cafe\u0301-1"}),
        409,
    )
    assert api.item(external_ref="\u200b")["external_ref"] is None
