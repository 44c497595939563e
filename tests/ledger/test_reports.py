"""Reports against a small dataset counted by hand (times in Asia/Shanghai, UTC+8).

item unit   source     campaign created (local) story
i1   east   audit      C1       03-02 10:00     due 03-09, submitted 03-02, closed 03-09 23:30
                                                local: on time
i2   east-a audit      C1       03-02 10:00     due 03-06, submitted and closed 03-07 01:00
                                                local: late
i3   east-a hotline             03-02 10:00     due 03-09, still rectifying: overdue (red)
i4   west   hotline             03-02 10:00     due 04-30, rectifying, not due yet
i5   -      inspection          03-02 10:00     found, never assigned
i6   west   inspection          03-03 00:30     assigned due 03-05, withdrawn
i7   -      inspection C1       03-04 10:00     withdrawn before assignment

Reported on 03-20 after a deadline scan. rectification_rate: rectified {i1, i2}
over due-or-rectified {i1, i2, i3} (i4 not due, withdrawn ones excluded) = 2/3.
on_time_rate (the items' ``on_time``): {i1} over rectified with a due date
{i1, i2} = 1/2. (Closing after the due date is not late when the closure
request came in time: the commission's review never counts against the unit.)
"""

import pytest

STATES = ["found", "assigned", "rectifying", "verified", "closed"]


@pytest.fixture
def world(api):
    api.unit("city", "某市")
    api.unit("east", "东区", parent="city")
    api.unit("east-a", "东区住建局", parent="east")
    api.unit("west", "西区", parent="city")
    sup = api.key("supervisor")
    east, west = api.key("unit", "east"), api.key("unit", "west")

    def at(moment):
        api.set_clock(moment)

    at("2026-03-02T02:00:00Z")
    i1 = api.item(sup, source="audit", campaign="C1")["id"]
    i2 = api.item(sup, source="audit", campaign="C1")["id"]
    i3 = api.item(sup, source="hotline")["id"]
    i4 = api.item(sup, source="hotline")["id"]
    api.item(sup, source="inspection")
    for iid, unit, due, key in [
        (i1, "east", "2026-03-09", east),
        (i2, "east-a", "2026-03-06", east),
        (i3, "east-a", "2026-03-09", east),
        (i4, "west", "2026-04-30", west),
    ]:
        api.act(iid, "assign", sup, unit_code=unit, due_date=due)
        api.act(iid, "accept", key)

    def rectified(iid):
        api.evidence(iid, east)
        api.act(iid, "submit", east, comment="已整改")
        api.act(iid, "verify", sup)

    rectified(i1)
    at("2026-03-02T16:30:00Z")
    i6 = api.item(sup, source="inspection")["id"]
    api.act(i6, "assign", sup, unit_code="west", due_date="2026-03-05")
    api.act(i6, "withdraw", sup, comment="重复")
    at("2026-03-04T02:00:00Z")
    i7 = api.item(sup, source="inspection", campaign="C1")["id"]
    api.act(i7, "withdraw", sup, comment="不属实")
    at("2026-03-06T17:00:00Z")
    rectified(i2)
    api.act(i2, "close", sup)
    at("2026-03-09T15:30:00Z")
    api.act(i1, "close", sup)
    at("2026-03-20T02:00:00Z")
    api.post("/admin/scheduler/tick", expect=200)
    return {"east": east, "viewer": api.key("viewer")}


def summary(api, token="admin", **params):
    return api.get("/reports/summary", params=params, token=token, expect=200).json()


def units(api, token="admin", **params):
    return api.get("/reports/units", params=params, token=token, expect=200).json()["data"]


def test_summary_matches_the_hand_count(api, world):
    assert summary(api, world["viewer"]) == {
        "total": 7,
        "by_state": {"found": 1, "assigned": 0, "rectifying": 2, "verified": 0, "closed": 4},
        "by_light": {"green": 1, "yellow": 0, "red": 1, "paused": 0, "none": 5},
        "open": 3,
        "closed": 4,
        "rectified": 2,
        "rectification_rate": 0.6667,
        "overdue": 1,
        "on_time_rate": 0.5,
        "measures": {"total": 0, "open": 0, "done": 0, "ongoing": 0, "overdue": 0},
        "satisfaction_rate": None,
        "redo": 0,
    }


def test_units_match_the_hand_count_and_add_up_to_the_summary(api, world):
    rows = {r["unit_code"]: r for r in units(api)}
    assert list(rows) == ["city", "east", "east-a", "west", None]
    assert rows["city"] == {
        "unit_code": "city",
        "name": "某市",
        "total": 0,
        "open": 0,
        "closed": 0,
        "rectified": 0,
        "overdue": 0,
        "rectification_rate": None,
        "on_time_rate": None,
        "satisfaction_rate": None,
        "redo": 0,
    }
    picked = ("total", "open", "closed", "rectified", "overdue")
    assert {code: tuple(r[k] for k in picked) for code, r in rows.items()} == {
        "city": (0, 0, 0, 0, 0),
        "east": (1, 0, 1, 1, 0),
        "east-a": (2, 1, 1, 1, 1),
        "west": (2, 1, 1, 0, 0),
        None: (2, 1, 1, 0, 0),
    }
    assert (rows["east"]["rectification_rate"], rows["east"]["on_time_rate"]) == (1.0, 1.0)
    assert (rows["east-a"]["rectification_rate"], rows["east-a"]["on_time_rate"]) == (0.5, 0.0)
    assert (rows["west"]["rectification_rate"], rows["west"]["on_time_rate"]) == (None, None)
    assert rows[None]["name"] == "（未交办）"
    total = summary(api)
    for key in picked:
        assert sum(r[key] for r in rows.values()) == total[key]


FILTERS = [
    ({"campaign": "C1"}, 3, {"closed": 3}),
    ({"source": "hotline"}, 2, {"rectifying": 2}),
    ({"from": "2026-03-03", "to": "2026-03-03"}, 1, {"closed": 1}),
    ({"from": "2026-03-03"}, 2, {"closed": 2}),
    ({"to": "2026-03-02"}, 5, {"found": 1, "rectifying": 2, "closed": 2}),
    ({"campaign": "none-such"}, 0, {}),
    ({"from": "0001-01-01", "to": "9999-12-31"}, 7, {"found": 1, "rectifying": 2, "closed": 4}),
]


def test_filters(api, world):
    for params, total, by_state in FILTERS:
        got = summary(api, **params)
        assert got["total"] == total, params
        assert got["by_state"] == {s: by_state.get(s, 0) for s in STATES}, params
        assert sum(got["by_light"].values()) == total, params
        assert sum(r["total"] for r in units(api, **params)) == total, params


def test_unit_keys_see_their_subtree_only(api, world):
    got = summary(api, world["east"])
    assert (got["total"], got["rectified"], got["overdue"]) == (3, 2, 1)
    assert got["rectification_rate"] == 0.6667 and got["on_time_rate"] == 0.5
    assert [r["unit_code"] for r in units(api, world["east"])] == ["east", "east-a"]


def test_empty_database_and_bad_periods(api):
    got = summary(api)
    assert got["total"] == 0 and got["by_state"] == dict.fromkeys(STATES, 0)
    assert got["rectification_rate"] is None and got["on_time_rate"] is None
    assert units(api) == []
    r = api.get("/reports/summary", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert r.status_code == 400
    assert api.get("/reports/units", params={"source": "rumour"}).status_code == 400
    for path in ("/reports/summary", "/reports/units", "/reports/period"):  # a typo, not 0s
        r = api.get(path, params={"type": "bogus"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "type", path
    assert api.get("/reports/summary", token=None).status_code == 401
