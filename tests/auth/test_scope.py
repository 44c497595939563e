"""Unit keys see and act only within their unit's subtree (404 outside it)."""

import pytest

from tests.factories import assert_problem, make_world


@pytest.fixture(scope="module")
def world(shared_api):
    return make_world(shared_api)


def test_a_unit_key_gets_404_for_another_units_item(world):
    api = world.api
    theirs = api.item(world.sup)
    api.act(theirs["id"], "assign", world.sup, unit_code="district")
    api.evidence(theirs["id"], world.district)
    iid = theirs["id"]
    for path in (
        f"/items/{iid}",
        f"/items/{iid}/actions",
        f"/items/{iid}/history",
        f"/items/{iid}/history/verify",
        f"/items/{iid}/evidence",
        f"/items/{iid}/evidence/1",
    ):
        assert_problem(api.get(path, token=world.unit), 404)
    assert_problem(api.act(iid, "accept", world.unit, expect=None), 404)
    assert_problem(api.evidence(iid, world.unit, expect=None), 404)
    assert api.get(f"/items/{iid}", token=world.district).status_code == 200


def test_unassigned_items_are_invisible_to_unit_keys(world):
    item = world.api.item(world.sup)
    assert_problem(world.api.get(f"/items/{item['id']}", token=world.unit), 404)
    assert_problem(world.api.get(f"/items/{item['id']}", token=world.city), 404)


def test_a_parent_units_key_sees_and_acts_on_its_descendants_items(world):
    api = world.api
    item = world.item_in("assigned")
    assert api.get(f"/items/{item['id']}", token=world.city).status_code == 200
    got = api.act(item["id"], "accept", world.city).json()
    assert got["state"] == "rectifying" and got["unit_code"] == "court"
    assert api.history(item["id"])[-1]["actor"].startswith("unit:")


def test_a_child_units_key_does_not_see_its_parents_items(world):
    api = world.api
    item = api.item(world.sup)
    api.act(item["id"], "assign", world.sup, unit_code="city")
    assert api.get(f"/items/{item['id']}", token=world.city).status_code == 200
    assert_problem(api.get(f"/items/{item['id']}", token=world.unit), 404)


def test_lists_are_filtered_to_the_subtree(world):
    api = world.api
    campaign = "scope-list"
    ids = {}
    for code in ("city", "court", "district"):
        item = api.item(world.sup, campaign=campaign)
        api.act(item["id"], "assign", world.sup, unit_code=code)
        ids[code] = item["id"]
    api.item(world.sup, campaign=campaign)  # found: no unit

    def listed(token, **params):
        r = api.get("/items", token=token, params={"campaign": campaign, **params})
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["data"]}

    assert listed(world.unit) == {ids["court"]}
    assert listed(world.district) == {ids["district"]}
    assert listed(world.city) == set(ids.values())
    assert len(listed(world.sup)) == len(listed(world.viewer)) == 4
    # a unit key's own filter cannot widen its scope
    assert listed(world.unit, unit="city") == {ids["court"]}
    assert listed(world.unit, unit="district") == set()


def test_like_wildcards_in_unit_codes_do_not_widen_a_subtree(world):
    """Unit paths are matched with LIKE: '_' and '%' in a code must match only themselves."""
    api = world.api
    for code in ("dept_1", "deptx1", "dept_1.sub", "deptx1.sub"):
        api.unit(code, parent=code.split(".")[0] if "." in code else None)
    token = api.key("unit", "dept_1")
    items = {}
    for code in ("dept_1", "deptx1", "dept_1.sub", "deptx1.sub"):
        item = api.item(world.sup, campaign="wildcards")
        api.act(item["id"], "assign", world.sup, unit_code=code)
        items[code] = item["id"]
    for code, iid in items.items():
        expected = 200 if code.startswith("dept_1") else 404
        assert api.get(f"/items/{iid}", token=token).status_code == expected, code
    listed = api.get("/items", token=token, params={"campaign": "wildcards"}, expect=200).json()
    assert {i["id"] for i in listed["data"]} == {items["dept_1"], items["dept_1.sub"]}
    got = api.act(items["dept_1.sub"], "accept", token).json()
    assert got["state"] == "rectifying"
    assert_problem(api.act(items["deptx1.sub"], "accept", token, expect=None), 404)


def test_a_viewer_key_bound_to_a_unit_reads_only_that_subtree(world):
    api = world.api
    county_leader = api.key("viewer", "city")
    court_viewer = api.key("viewer", "court")
    mine = world.item_in("assigned")
    theirs = api.item(world.sup)
    api.act(theirs["id"], "assign", world.sup, unit_code="district")
    assert api.get(f"/items/{theirs['id']}", token=county_leader).status_code == 200
    assert api.get(f"/items/{mine['id']}", token=court_viewer).status_code == 200
    assert_problem(api.get(f"/items/{theirs['id']}", token=court_viewer), 404)
    listed = {i["id"] for i in api.get("/items?limit=500", token=court_viewer).json()["data"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    assert_problem(api.act(mine["id"], "accept", court_viewer, expect=None), 403)
    events = api.get("/events?limit=500", token=court_viewer).json()["data"]
    assert events and {e["subject"] for e in events} <= {f"items/{i}" for i in listed} | {
        f"items/{mine['id']}"
    }
    assert_problem(
        api.post("/keys", json={"name": "x", "role": "supervisor", "unit_code": "court"}), 422
    )
