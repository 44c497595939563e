"""Measures (整改措施): roles, kinds, statuses, lights, the submit guard, history, events."""

import pytest

from tests.factories import DUE, NOW, assert_problem, make_world


@pytest.fixture
def world(api):
    return make_world(api)


def _item(world, co_units=("district",)) -> int:
    api = world.api
    iid = api.item(world.sup)["id"]
    api.act(iid, "assign", world.sup, unit_code="court", due_date=DUE, co_unit_codes=list(co_units))
    api.act(iid, "accept", world.unit)
    return iid


def _measure(world, iid, token=None, expect=201, **body):
    body = {"title": "完善制度", "kind": "deadline", "due_date": DUE, **body}
    return world.api.post(
        f"/items/{iid}/measures", json=body, token=token or world.sup, expect=expect
    ).json()


def _events(api, type_):
    return [
        e for e in api.get("/events", params={"limit": 500}).json()["data"] if e["type"] == type_
    ]


def test_kinds_defaults_and_the_measure_shape(world):
    api = world.api
    iid = _item(world)
    immediate = _measure(
        world, iid, token=world.unit, title="立即清退多收费用", kind="immediate", due_date=None
    )
    assert (
        immediate["due_date"] == DUE and immediate["unit_code"] == "court"
    )  # the item's date, the lead
    long_term = _measure(world, iid, kind="long_term", due_date=None, unit_code="district")
    assert long_term["due_date"] is None and long_term["light"] == "none"
    deadline = _measure(world, iid, due_date="2026-03-05")
    assert set(deadline) == {
        "id",
        "item_id",
        "seq",
        "title",
        "unit_code",
        "kind",
        "due_date",
        "status",
        "light",
        "completed_at",
        "latest_progress",
        "created_at",
        "updated_at",
    }
    assert [m["seq"] for m in (immediate, long_term, deadline)] == [1, 2, 3]
    assert deadline["status"] == "open" and deadline["light"] == "yellow"  # due in 3 workdays
    assert immediate["light"] == "green"
    listed = api.get(f"/items/{iid}/measures", token=world.district).json()["data"]
    assert [m["id"] for m in listed] == [immediate["id"], long_term["id"], deadline["id"]]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "deadline", "due_date": None}, "due_date"),
        ({"kind": "long_term", "due_date": DUE}, "due_date"),
        ({"kind": "deadline", "due_date": "2026-03-01"}, "due_date"),  # in the past
        ({"unit_code": "city"}, "unit_code"),  # neither lead nor co-unit
        ({"kind": "sometime"}, "kind"),
        ({"title": "  "}, "title"),
    ],
)
def test_invalid_measures_are_422_naming_the_field(world, body, field):
    iid = _item(world)
    r = world.api.post(
        f"/items/{iid}/measures",
        json={"title": "措施", "kind": "deadline", "due_date": DUE, **body},
        token=world.sup,
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == field


def test_who_may_create_edit_report_complete_and_reopen(world):
    api = world.api
    iid = _item(world)
    viewer, district, unit, sup = world.viewer, world.district, world.unit, world.sup
    _measure(world, iid, token=district, expect=403)
    _measure(world, iid, token=viewer, expect=403)
    lead_m = _measure(world, iid, token=unit, title="牵头单位措施")
    co_m = _measure(world, iid, token=sup, title="配合单位措施", unit_code="district")
    base = f"/items/{iid}/measures"
    assert_problem(api.patch(f"{base}/{co_m['id']}", json={"title": "改"}, token=district), 403)
    got = api.patch(
        f"{base}/{co_m['id']}", json={"title": "配合单位措施（修订）"}, token=unit, expect=200
    ).json()
    assert got["title"] == "配合单位措施（修订）"

    report = {"comment": "已完成前期摸排", "percent": 40}
    assert_problem(api.post(f"{base}/{lead_m['id']}/progress", json=report, token=district), 403)
    assert_problem(api.post(f"{base}/{co_m['id']}/progress", json=report, token=viewer), 403)
    p = api.post(f"{base}/{co_m['id']}/progress", json=report, token=district, expect=201).json()
    assert (
        p["comment"] == "已完成前期摸排" and p["percent"] == 40 and p["actor"].startswith("unit:")
    )
    api.post(f"{base}/{lead_m['id']}/progress", json={"comment": "督促推进"}, token=sup, expect=201)
    assert api.get(f"{base}/{co_m['id']}", token=unit).json()["id"] == co_m["id"]
    listed = api.get(f"{base}/{co_m['id']}/progress", token=unit).json()["data"]
    assert [x["percent"] for x in listed] == [40]
    assert api.get(base, token=unit).json()["data"][1]["latest_progress"]["percent"] == 40

    done = {"comment": "已完成"}
    assert_problem(api.post(f"{base}/{lead_m['id']}/complete", json=done, token=district), 403)
    assert_problem(api.post(f"{base}/{co_m['id']}/complete", json=done, token=sup), 403)
    got = api.post(f"{base}/{co_m['id']}/complete", json=done, token=district, expect=200).json()
    assert got["status"] == "done" and got["completed_at"] and got["light"] == "none"
    assert_problem(api.post(f"{base}/{co_m['id']}/complete", json=done, token=unit), 409)
    assert_problem(api.patch(f"{base}/{co_m['id']}", json={"title": "再改"}, token=unit), 409)
    assert_problem(api.post(f"{base}/{co_m['id']}/reopen", json=done, token=unit), 403)
    got = api.post(
        f"{base}/{co_m['id']}/reopen", json={"comment": "整改不到位"}, token=sup, expect=200
    ).json()
    assert got["status"] == "open" and got["completed_at"] is None
    assert_problem(
        api.post(f"{base}/{co_m['id']}/reopen", json={"comment": "再次"}, token=sup), 409
    )
    assert_problem(api.post(f"{base}/999999/complete", json=done, token=unit), 404)


def test_the_lead_adds_measures_only_while_assigned_or_rectifying(world):
    api = world.api
    iid = api.item(world.sup)["id"]
    api.act(iid, "assign", world.sup, unit_code="court", due_date=DUE)
    _measure(world, iid, token=world.unit, title="签收前即可制定措施")
    item = world.item_in("verified")
    assert_problem(
        api.post(
            f"/items/{item['id']}/measures",
            json={"title": "x", "kind": "long_term"},
            token=world.unit,
        ),
        409,
    )
    closed = world.item_in("closed_rectified")
    r = api.post(
        f"/items/{closed['id']}/measures", json={"title": "x", "kind": "long_term"}, token=world.sup
    )
    assert_problem(r, 409)
    elsewhere = _measure(world, _item(world))  # a measure of another item: not there
    path = f"/items/{closed['id']}/measures/{elsewhere['id']}"
    progress = {"comment": "进展"}
    assert_problem(api.post(f"{path}/progress", json=progress, token=world.unit), 404)
    assert_problem(api.post(f"{path}/complete", json=progress, token=world.unit), 404)
    assert_problem(api.post(f"{path}/reopen", json=progress, token=world.sup), 404)
    assert_problem(api.patch(path, json={"title": "改"}, token=world.sup), 404)


def test_submit_is_refused_while_a_measure_is_open_naming_it(world):
    api = world.api
    iid = _item(world)
    api.evidence(iid, world.unit)
    first = _measure(world, iid, title="建立台账")
    second = _measure(
        world, iid, title="长效机制", kind="long_term", due_date=None, unit_code="district"
    )
    body = assert_problem(api.act(iid, "submit", world.unit, expect=None, comment="已整改"), 409)
    assert "建立台账" in body["detail"] and "长效机制" in body["detail"]
    assert [m["id"] for m in body["open_measures"]] == [first["id"], second["id"]]
    actions = api.get(f"/items/{iid}/actions", token=world.unit).json()["actions"]
    submit = next(a for a in actions if a["name"] == "submit")
    assert submit["enabled"] is False and "整改措施" in submit["reason"]

    base = f"/items/{iid}/measures"
    api.post(
        f"{base}/{first['id']}/complete",
        json={"comment": "台账已建立"},
        token=world.unit,
        expect=200,
    )
    got = api.post(
        f"{base}/{second['id']}/complete",
        json={"comment": "长期坚持"},
        token=world.district,
        expect=200,
    ).json()
    assert got["status"] == "ongoing"
    item = api.get(f"/items/{iid}").json()
    assert item["measures_summary"] == {
        "total": 2,
        "open": 0,
        "done": 1,
        "ongoing": 1,
        "overdue": 0,
    }
    assert api.act(iid, "submit", world.unit, comment="已整改").json()["review_pending"] is True


def test_every_measure_change_is_in_the_items_hash_chain_and_its_events(world):
    api = world.api
    iid = _item(world)
    version = api.get(f"/items/{iid}").json()["version"]
    m = _measure(world, iid, unit_code="district")
    base = f"/items/{iid}/measures/{m['id']}"
    api.patch(base, json={"due_date": "2026-04-15"}, token=world.unit, expect=200)
    api.post(
        f"{base}/progress",
        json={"comment": "推进中", "percent": 50},
        token=world.district,
        expect=201,
    )
    api.post(f"{base}/complete", json={"comment": "完成"}, token=world.district, expect=200)
    api.post(f"{base}/reopen", json={"comment": "返工"}, token=world.sup, expect=200)
    item = api.get(f"/items/{iid}").json()
    assert item["version"] == version + 5
    tail = api.history(iid)[-5:]
    assert [h["action"] for h in tail] == [
        "measure_create",
        "measure_update",
        "measure_progress",
        "measure_complete",
        "measure_reopen",
    ]
    assert all(h["data"]["measure_id"] == m["id"] for h in tail)
    assert tail[2]["comment"] == "推进中" and tail[1]["data"]["changed"] == {
        "due_date": "2026-04-15"
    }
    assert api.get(f"/items/{iid}/history/verify").json() == {
        "ok": True,
        "entries": len(api.history(iid)),
        "broken_seq": None,
    }
    by = {  # who, as item events name them (API.md: events name the person)
        "measure.created": world.sup,
        "measure.updated": world.unit,
        "measure.progress": world.district,
        "measure.completed": world.district,
        "measure.reopened": world.sup,
    }
    for type_, token in by.items():
        (event,) = _events(api, type_)
        assert event["subject"] == f"items/{iid}"
        assert event["data"]["item"]["id"] == iid and event["data"]["measure"]["id"] == m["id"]
        me = api.get("/me", token=token).json()
        actor = event["data"]["actor"]
        assert (actor["kind"], actor["name"], actor["role"]) == ("key", me["name"], me["role"])
    (progress,) = _events(api, "measure.progress")
    assert progress["data"]["progress"]["percent"] == 50


def tick(api, moment: str) -> dict:
    api.set_clock(moment)
    return api.post("/admin/scheduler/tick", expect=200).json()


def test_measure_overdue_fires_once_per_due_date_and_re_arms_when_it_moves(world):
    api = world.api
    iid = _item(world)
    m = _measure(world, iid, due_date="2026-03-10", unit_code="district")  # a Tuesday
    base = f"/items/{iid}/measures/{m['id']}"
    assert tick(api, "2026-03-10T15:59:59Z")["fired"].get("measure.overdue", 0) == 0
    assert api.get(f"/items/{iid}/measures").json()["data"][0]["light"] == "yellow"
    assert tick(api, "2026-03-10T16:00:00Z")["fired"]["measure.overdue"] == 1  # 00:00 local on 3-11
    assert tick(api, "2026-03-12T16:00:00Z")["fired"].get("measure.overdue", 0) == 0
    got = api.get(f"/items/{iid}").json()
    assert got["measures_summary"]["overdue"] == 1
    assert api.get(f"/items/{iid}/measures").json()["data"][0]["light"] == "red"
    (event,) = _events(api, "measure.overdue")
    assert event["data"]["measure"]["id"] == m["id"] and event["data"]["item"]["id"] == iid
    assert api.history(iid)[-1]["action"] == "measure_overdue"

    api.patch(base, json={"due_date": "2026-03-20"}, token=world.sup, expect=200)
    assert api.get(f"/items/{iid}").json()["measures_summary"]["overdue"] == 0
    assert tick(api, "2026-03-20T15:59:59Z")["fired"].get("measure.overdue", 0) == 0
    assert tick(api, "2026-03-20T16:00:00Z")["fired"]["measure.overdue"] == 1
    assert len(_events(api, "measure.overdue")) == 2
    assert api.get(f"/items/{iid}/history/verify").json()["ok"] is True


def test_done_measures_and_closed_items_are_not_chased(world):
    api = world.api
    iid = _item(world)
    m = _measure(world, iid, due_date="2026-03-10")
    api.post(
        f"/items/{iid}/measures/{m['id']}/complete",
        json={"comment": "完成"},
        token=world.unit,
        expect=200,
    )
    assert tick(api, "2026-03-20T16:00:00Z")["fired"].get("measure.overdue", 0) == 0
    assert _events(api, "measure.overdue") == []


def test_reports_count_measures(world):
    api = world.api
    api.set_clock(NOW)
    iid = _item(world)
    _measure(world, iid)
    done = _measure(world, iid, unit_code="district")
    _measure(world, iid, kind="long_term", due_date=None)
    api.post(
        f"/items/{iid}/measures/{done['id']}/complete",
        json={"comment": "完成"},
        token=world.district,
        expect=200,
    )
    assert api.get("/reports/summary").json()["measures"] == {
        "total": 3,
        "open": 2,
        "done": 1,
        "ongoing": 0,
        "overdue": 0,
    }
    assert api.get("/reports/summary", token=world.district).json()["measures"]["total"] == 3


def test_measure_changes_take_the_items_if_match(world):
    """A measure's change changes its item (version, ``measures_summary``): each takes
    ``If-Match`` with the item's ETag, a stale one is 412 and changes nothing."""
    api = world.api
    iid = _item(world)

    def tag() -> dict:
        return {"If-Match": api.get(f"/items/{iid}", token=world.sup).headers["etag"]}

    stale = {"If-Match": '"1"'}
    body = {"title": "完善制度", "kind": "deadline", "due_date": DUE}
    base = f"/items/{iid}/measures"
    api.post(base, json=body, token=world.sup, headers=stale, expect=412)
    mid = api.post(base, json=body, token=world.sup, headers=tag(), expect=201).json()["id"]
    steps = [
        ("patch", f"{base}/{mid}", {"title": "完善并落实制度"}, world.sup, 200),
        ("post", f"{base}/{mid}/progress", {"comment": "已起草"}, world.unit, 201),
        ("post", f"{base}/{mid}/complete", {"comment": "已印发"}, world.unit, 200),
        ("post", f"{base}/{mid}/reopen", {"comment": "未落实"}, world.sup, 200),
    ]
    for method, path, json, token, ok in steps:
        before = api.get(f"/items/{iid}", token=world.sup).json()
        send = getattr(api, method)
        assert_problem(send(path, json=json, token=token, headers=stale), 412)
        assert api.get(f"/items/{iid}", token=world.sup).json() == before, path
        send(path, json=json, token=token, headers=tag(), expect=ok)


def test_a_measures_answers_carry_the_items_etag_to_chain_changes(world):
    """Measure responses had no ETag, so a front end read the item again before each
    change. Each answer carries the item's, and the next change sends it back."""
    api = world.api
    iid = _item(world)
    body = {"title": "完善制度", "kind": "deadline", "due_date": DUE}
    r = api.post(f"/items/{iid}/measures", json=body, token=world.sup, expect=201)
    base = f"/items/{iid}/measures/{r.json()['id']}"
    item = api.get(f"/items/{iid}", token=world.sup)
    assert r.headers["etag"] == item.headers["etag"] == f'"{item.json()["version"]}"'
    assert api.get(base, token=world.unit).headers["etag"] == r.headers["etag"]
    steps = [
        ("patch", base, {"title": "完善并落实制度"}, world.sup, 200),
        ("post", f"{base}/progress", {"comment": "已起草"}, world.unit, 201),
        ("post", f"{base}/complete", {"comment": "已印发"}, world.unit, 200),
        ("post", f"{base}/reopen", {"comment": "未落实"}, world.sup, 200),
    ]
    tag = r.headers["etag"]
    for method, path, json, token, ok in steps:
        got = getattr(api, method)(path, json=json, token=token, headers={"If-Match": tag})
        assert got.status_code == ok, (path, got.text)
        assert got.headers["etag"] != tag, path
        tag = got.headers["etag"]
    assert api.get(f"/items/{iid}", token=world.sup).headers["etag"] == tag


def test_a_progress_reports_location_names_the_report_itself(world):
    """Every 201 carries ``Location``: the report's own URL, which reads it back (it was
    the list's); a report read through another measure is 404."""
    api = world.api
    iid = _item(world)
    first, other = _measure(world, iid), _measure(world, iid, title="另一措施")
    base = f"/items/{iid}/measures/{first['id']}/progress"
    r = api.post(base, json={"comment": "已起草", "percent": 30}, token=world.unit, expect=201)
    made = r.json()
    assert r.headers["location"] == f"/api/v1{base}/{made['id']}"
    got = api.get(r.headers["location"].removeprefix("/api/v1"), token=world.viewer, expect=200)
    assert got.json() == made
    assert api.get(base, expect=200).json()["data"] == [made]
    wrong = f"/items/{iid}/measures/{other['id']}/progress/{made['id']}"
    assert_problem(api.get(wrong), 404)
    assert_problem(api.get(f"{base}/999999"), 404)


def test_once_closure_is_asked_measures_are_neither_added_nor_reopened(world):
    """The audit's repro: a measure added or reopened during the review let an item be
    verified and closed as rectified with open measures nobody could complete."""
    api = world.api
    iid = _item(world)
    api.evidence(iid, world.unit)
    done = _measure(world, iid, title="建立台账")
    path = f"/items/{iid}/measures/{done['id']}"
    api.post(f"{path}/complete", json={"comment": "已建立"}, token=world.unit, expect=200)
    api.act(iid, "submit", world.unit, comment="已整改")

    for token in (world.unit, world.sup):  # under review
        _measure(world, iid, token=token, expect=409)
    assert_problem(api.post(f"{path}/reopen", json={"comment": "再看"}, expect=None), 409)
    api.act(iid, "verify", world.sup)
    _measure(world, iid, expect=409)  # verified
    assert_problem(api.post(f"{path}/reopen", json={"comment": "再看"}, expect=None), 409)
    closed = api.act(iid, "close", world.sup).json()
    assert closed["measures_summary"]["open"] == 0 and closed["on_time"] is True


def test_a_rejected_request_opens_the_plan_again(world):
    api = world.api
    iid = _item(world)
    api.evidence(iid, world.unit)
    api.act(iid, "submit", world.unit, comment="已整改")
    api.act(iid, "reject", world.sup, comment="还需建立长效机制")
    added = _measure(world, iid, title="建立长效机制")
    assert added["status"] == "open"
    api.evidence(iid, world.unit)
    body = assert_problem(api.act(iid, "submit", world.unit, expect=None, comment="再次申请"), 409)
    assert "建立长效机制" in body["detail"]
