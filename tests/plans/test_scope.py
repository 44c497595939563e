"""Scope is lead or co-unit: a co-unit sees the item everywhere and does its own
part; only the lead unit signs, returns, asks for more time and submits; a unit
that is neither gets 404 on every route."""

import csv
import io

import pytest

from tests.factories import DUE, assert_problem, make_world


@pytest.fixture(scope="module")
def world(shared_api):
    w = make_world(shared_api)
    shared_api.unit("bureau", "市审计局")
    w.bureau = shared_api.key("unit", "bureau")
    return w


def _plan(world, state: str = "rectifying") -> dict:
    """An item led by the court with the district as co-unit, one measure each."""
    api = world.api
    iid = api.item(world.sup)["id"]
    api.act(iid, "assign", world.sup, unit_code="court", due_date=DUE, co_unit_codes=["district"])
    if state == "rectifying":
        api.act(iid, "accept", world.unit)
    ms = {}
    for code in ("court", "district"):
        body = {
            "title": f"{code}的整改措施",
            "kind": "deadline",
            "due_date": DUE,
            "unit_code": code,
        }
        ms[code] = api.post(f"/items/{iid}/measures", json=body, token=world.sup, expect=201).json()
    return {"id": iid, "measures": ms}


def _read_paths(iid: int, mid: int) -> list[str]:
    return [
        f"/items/{iid}",
        f"/items/{iid}/actions",
        f"/items/{iid}/history",
        f"/items/{iid}/history/verify",
        f"/items/{iid}/evidence",
        f"/items/{iid}/measures",
        f"/items/{iid}/measures/{mid}/progress",
    ]


def test_a_co_unit_reads_the_item_on_every_route_and_a_stranger_gets_404(world):
    api = world.api
    plan = _plan(world)
    iid, mid = plan["id"], plan["measures"]["court"]["id"]
    for path in _read_paths(iid, mid):
        assert api.get(path, token=world.district).status_code == 200, path
        assert_problem(api.get(path, token=world.bureau), 404)
    got = api.get(f"/items/{iid}", token=world.district).json()
    assert got["unit_code"] == "court" and got["co_unit_codes"] == ["district"]
    assert got["measures_summary"] == {"total": 2, "open": 2, "done": 0, "ongoing": 0, "overdue": 0}


def test_lists_export_reports_and_the_feed_include_co_unit_items(world):
    api = world.api
    campaign = "co-unit-lists"
    iid = _plan_in_campaign(world, campaign)
    mine = api.get("/items", params={"campaign": campaign}, token=world.district).json()["data"]
    assert [i["id"] for i in mine] == [iid]
    assert api.get("/items", params={"campaign": campaign}, token=world.bureau).json()["data"] == []
    by_unit = api.get("/items", params={"campaign": campaign, "unit": "district"}).json()["data"]
    assert [i["id"] for i in by_unit] == [iid]
    assert api.get("/items", params={"campaign": campaign, "unit": "bureau"}).json()["data"] == []

    for token, expected in ((world.district, 1), (world.bureau, 0)):
        r = api.get("/items/export", params={"format": "csv", "campaign": campaign}, token=token)
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(rows) - 1 == expected
        summary = api.get("/reports/summary", params={"campaign": campaign}, token=token).json()
        assert summary["total"] == expected
        assert summary["measures"]["total"] == 2 * expected
        # the units report adds up to the same: the lead's row too, outside the subtree
        rows = api.get("/reports/units", params={"campaign": campaign}, token=token).json()
        assert sum(r["total"] for r in rows["data"]) == expected
    rows = api.get("/reports/units", params={"campaign": campaign}, token=world.district).json()
    assert {r["unit_code"]: r["total"] for r in rows["data"]} == {"district": 0, "court": 1}

    def subjects(token):
        events = api.get("/events", params={"limit": 500}, token=token).json()["data"]
        return {e["subject"] for e in events}

    assert f"items/{iid}" in subjects(world.district)
    assert f"items/{iid}" not in subjects(world.bureau)


def _plan_in_campaign(world, campaign: str) -> int:
    api = world.api
    iid = _plan(world)["id"]
    api.patch(f"/items/{iid}", json={"campaign": campaign}, token=world.sup, expect=200)
    return iid


def test_only_the_lead_signs_returns_submits_and_asks_for_more_time(world):
    api = world.api
    assigned = _plan(world, "assigned")["id"]
    for action, fields in (("accept", {}), ("return", {"comment": "不是我们的"})):
        body = assert_problem(api.act(assigned, action, world.district, expect=None, **fields), 403)
        assert "牵头单位" in body["detail"]
        assert_problem(api.act(assigned, action, world.bureau, expect=None, **fields), 404)
    names = {
        a["name"]
        for a in api.get(f"/items/{assigned}/actions", token=world.district).json()["actions"]
    }
    assert names == set()
    names = {
        a["name"] for a in api.get(f"/items/{assigned}/actions", token=world.unit).json()["actions"]
    }
    assert names == {"accept", "return", "request_extension"}

    plan = _plan(world)
    iid = plan["id"]
    for m in plan["measures"].values():
        api.post(
            f"/items/{iid}/measures/{m['id']}/complete",
            json={"comment": "完成"},
            token=world.unit,
            expect=200,
        )
    api.evidence(iid, world.district)  # a co-unit may upload evidence
    assert_problem(api.act(iid, "submit", world.district, expect=None, comment="已整改"), 403)
    assert_problem(api.evidence(iid, world.bureau, expect=None), 404)
    ext = {"due_date": "2026-06-30", "reason": "需要更多时间"}
    assert_problem(api.post(f"/items/{iid}/extensions", json=ext, token=world.district), 403)
    assert_problem(api.post(f"/items/{iid}/extensions", json=ext, token=world.bureau), 404)
    assert api.post(f"/items/{iid}/extensions", json=ext, token=world.unit).status_code == 201
    assert api.act(iid, "submit", world.unit, comment="已整改到位").json()["review_pending"] is True


def test_people_fields_are_the_leads_and_co_units_the_supervisors(world):
    api = world.api
    iid = _plan(world)["id"]
    people = {"responsible_person": "张伟", "responsible_leader": "王副院长"}
    got = api.patch(f"/items/{iid}", json=people, token=world.unit, expect=200).json()
    assert got["responsible_person"] == "张伟" and got["responsible_leader"] == "王副院长"
    assert_problem(api.patch(f"/items/{iid}", json=people, token=world.district), 403)
    assert_problem(api.patch(f"/items/{iid}", json=people, token=world.bureau), 404)
    assert_problem(api.patch(f"/items/{iid}", json={"co_unit_codes": []}, token=world.unit), 403)
    got = api.patch(f"/items/{iid}", json={"co_unit_codes": ["bureau"]}, token=world.sup).json()
    assert got["co_unit_codes"] == ["bureau"]
    assert api.get(f"/items/{iid}", token=world.bureau).status_code == 200
    assert_problem(api.get(f"/items/{iid}", token=world.district), 404)
    assert api.history(iid)[-1]["data"]["changed"]["co_unit_codes"] == ["bureau"]


@pytest.mark.parametrize(
    "co_units, field",
    [(["court"], "co_unit_codes"), (["nowhere"], "co_unit_codes"), ([""], "co_unit_codes.0")],
)
def test_co_units_must_exist_and_differ_from_the_lead(world, co_units, field):
    api = world.api
    iid = api.item(world.sup)["id"]
    r = api.act(
        iid,
        "assign",
        world.sup,
        expect=None,
        unit_code="court",
        due_date=DUE,
        co_unit_codes=co_units,
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == field
    assert api.get(f"/items/{iid}").json()["state"] == "found"


def test_reassign_keeps_co_units_minus_the_new_lead_unless_given(world):
    api = world.api
    iid = _plan(world)["id"]
    got = api.act(iid, "reassign", world.sup, unit_code="district", comment="改由区政府牵头").json()
    assert got["unit_code"] == "district" and got["co_unit_codes"] == []
    reassigned = api.get(f"/items/{iid}/history").json()["data"][-1]
    assert reassigned["action"] == "reassign" and reassigned["data"]["co_unit_codes"] == []
    got = api.act(
        iid,
        "reassign",
        world.sup,
        unit_code="court",
        comment="改回",
        co_unit_codes=["district", "bureau"],
    ).json()
    assert got["co_unit_codes"] == ["district", "bureau"]
    listed = api.get("/items", params={"unit": "bureau"}).json()["data"]
    assert iid in [i["id"] for i in listed]


def test_unit_lists_page_lead_and_co_unit_items_newest_first(world):
    """``unit=`` and a unit key's scope page through the items that a subtree leads
    or cooperates on, newest first, each once, whether the subtree is narrow (read
    lead and co-unit branch by branch) or wide (tested item by item)."""
    api = world.api
    root = api.unit(parent="city")["code"]
    kids = [api.unit(parent=root)["code"] for _ in range(9)]
    grandchild = api.unit(parent=kids[1])["code"]
    outsider = api.unit(parent="city")["code"]
    campaign = f"paging-{root}"
    plans = [  # (lead, co-units): the ids grow in this order
        (kids[0], []),
        (outsider, [kids[1]]),
        (outsider, []),
        (kids[1], [kids[2], outsider]),
        (root, [kids[0], grandchild]),
        (outsider, [kids[8]]),
        (kids[8], []),
        (grandchild, [kids[1]]),
        (outsider, [root]),
        (None, [grandchild]),  # not assigned yet
    ]
    ids = []
    for lead, co_units in plans:
        iid = api.item(world.sup, campaign=campaign)["id"]
        if lead:
            api.act(iid, "assign", world.sup, unit_code=lead, due_date=DUE, co_unit_codes=co_units)
        else:
            api.patch(f"/items/{iid}", json={"co_unit_codes": co_units}, token=world.sup)
        ids.append(iid)

    def expected(subtree: set[str], lead_only_assigned: bool = False) -> list[int]:
        return sorted(
            (
                iid
                for iid, (lead, co_units) in zip(ids, plans, strict=True)
                if ({lead, *co_units} & subtree) and (lead or not lead_only_assigned)
            ),
            reverse=True,
        )

    def pages(token="admin", **params) -> list[int]:
        got, cursor = [], None
        while True:
            query = {"campaign": campaign, "limit": 2, **params}
            if cursor:
                query["cursor"] = cursor
            body = api.get("/items", params=query, token=token).json()
            got += [i["id"] for i in body["data"]]
            cursor = body.get("next_cursor")
            if not cursor:
                return got

    wide = {root, *kids, grandchild}  # more codes than are read branch by branch
    narrow = {kids[1], grandchild}
    assert pages(unit=root) == expected(wide)
    assert pages(unit=kids[1]) == expected(narrow)
    assert pages(unit=root, state="assigned") == expected(wide, lead_only_assigned=True)
    root_key, kid_key = api.key("unit", root), api.key("unit", kids[1])
    assert pages(kid_key) == expected(narrow)
    assert pages(root_key) == expected(wide)

    def both(a: set[str], b: set[str]) -> list[int]:
        return [iid for iid in expected(a) if iid in expected(b)]

    assert pages(root_key, unit=kids[1]) == both(wide, narrow) == expected(narrow)
    assert pages(root_key, unit=outsider) == both(wide, {outsider}) != []
    assert pages(kid_key, unit=root) == both(narrow, wide)
    assert pages(kid_key, unit=kids[0]) == both(narrow, {kids[0]}) != []
    assert pages(kid_key, unit=kids[8]) == []


def test_a_co_unit_taken_off_hands_its_open_measures_to_the_lead(world):
    """A measure's unit is the lead or a co-unit: one left on a unit that no longer sees
    the item could be neither done nor edited, so the lead takes it over."""
    api = world.api
    plan = _plan(world)
    iid, theirs = plan["id"], plan["measures"]["district"]
    api.patch(f"/items/{iid}", json={"co_unit_codes": []}, token=world.sup, expect=200)
    moved = api.get(f"/items/{iid}/measures/{theirs['id']}", expect=200).json()
    assert moved["unit_code"] == "court" and moved["status"] == "open"
    edit = api.get(f"/items/{iid}/history").json()["data"][-1]
    assert edit["action"] == "edit"
    assert edit["data"]["measures_handed_over"] == [
        {"measure_id": theirs["id"], "seq": theirs["seq"], "from": "district", "to": "court"}
    ]
    assert_problem(api.get(f"/items/{iid}", token=world.district), 404)
    path = f"/items/{iid}/measures/{theirs['id']}"
    renamed = api.patch(path, json={"title": "建立长效机制（改）"}, token=world.unit, expect=200)
    assert renamed.json()["title"] == "建立长效机制（改）"
    api.post(f"{path}/complete", json={"comment": "已完成"}, token=world.unit, expect=200)


def test_a_reassign_hands_the_former_leads_open_measures_to_the_new_lead(world):
    api = world.api
    plan = _plan(world)
    iid, court, district = plan["id"], plan["measures"]["court"], plan["measures"]["district"]
    done = api.post(
        f"/items/{iid}/measures",
        json={"title": "已办结的措施", "kind": "deadline", "due_date": DUE},
        token=world.sup,
        expect=201,
    ).json()
    api.post(
        f"/items/{iid}/measures/{done['id']}/complete",
        json={"comment": "已完成"},
        token=world.unit,
        expect=200,
    )
    api.act(iid, "reassign", world.sup, unit_code="bureau", comment="改由审计局牵头")
    units = {m["id"]: m["unit_code"] for m in api.get(f"/items/{iid}/measures").json()["data"]}
    # the former lead's open one passes, the co-unit keeps its own, the done one its doer
    assert units == {court["id"]: "bureau", district["id"]: "district", done["id"]: "court"}
    entry = api.get(f"/items/{iid}/history").json()["data"][-1]
    assert entry["action"] == "reassign"
    assert [h["measure_id"] for h in entry["data"]["measures_handed_over"]] == [court["id"]]
    api.post(
        f"/items/{iid}/measures/{court['id']}/progress",
        json={"comment": "已接手"},
        token=world.bureau,
        expect=201,
    )

    reopen = f"/items/{iid}/measures/{done['id']}/reopen"
    reopened = api.post(reopen, json={"comment": "需返工"}, token=world.sup, expect=200).json()
    assert (reopened["status"], reopened["unit_code"]) == ("open", "bureau")


def test_a_returned_item_has_no_co_units_and_its_measures_pass_to_the_next_lead(world):
    """``return`` takes the lead off: the co-units work on the lead's item, so they go
    too (recorded), and no longer see it; the next ``assign`` hands the open measures to
    its lead (the returning unit's included, which no longer sees the item)."""
    api = world.api
    plan = _plan(world, "assigned")
    iid = plan["id"]
    back = api.act(iid, "return", world.unit, comment="不归我们").json()
    assert (back["state"], back["unit_code"], back["co_unit_codes"]) == ("found", None, [])
    assert api.history(iid)[-1]["data"]["co_unit_codes_removed"] == ["district"]
    assert_problem(api.get(f"/items/{iid}", token=world.district), 404)
    assert_problem(api.evidence(iid, world.district, expect=None), 404)
    assigned = api.act(iid, "assign", world.sup, unit_code="bureau", due_date=DUE).json()
    assert assigned["co_unit_codes"] == []
    units = {m["unit_code"] for m in api.get(f"/items/{iid}/measures").json()["data"]}
    assert units == {"bureau"}
    handed = api.history(iid)[-1]["data"]["measures_handed_over"]
    assert {h["from"] for h in handed} == {"court", "district"}
