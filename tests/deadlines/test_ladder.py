"""The escalation ladder over HTTP, on the real 2026 statutory calendar.

Asia/Shanghai is UTC+8: 00:00 local of day D is 16:00Z of D-1.
"""

import pytest


@pytest.fixture
def people(api):
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("audit", "市审计局", parent="city")
    return {"sup": api.key("supervisor"), "court": api.key("unit", "court")}


def tick(api, at: str) -> dict:
    api.set_clock(at)
    return api.post("/admin/scheduler/tick", expect=200).json()


def ladder_history(api, iid) -> list[str]:
    hist = api.get(f"/items/{iid}/history", expect=200).json()["data"]
    return [h["action"] for h in hist if h["actor"] == "system:scheduler"]


def test_accept_deadline_spans_national_day_and_ladder_fires_on_the_exact_days(api, people):
    api.set_clock("2026-09-30T02:00:00Z")  # 10:00 local, Wednesday before National Day
    item = api.item(people["sup"])
    r = api.act(item["id"], "assign", people["sup"], unit_code="court", due_date="2026-12-31")
    body = r.json()
    # W(3, 09-30): Oct 1-7 are holidays, Oct 8 Thu, Oct 9 Fri, Oct 10 make-up Saturday.
    assert body["accept_due_date"] == "2026-10-10"
    assert body["light"] == "green"  # the accept reminder is 1 workday before: not today

    expected = [  # (moment, steps fired by a tick at that moment)
        ("2026-09-30T02:00:01Z", {}),
        ("2026-10-08T15:59:59Z", {}),
        ("2026-10-08T16:00:00Z", {"reminder": 1}),  # 00:00 of W(-1, 10-10) = 10-09
        ("2026-10-10T15:59:59Z", {}),  # 23:59:59 local on the due date: not overdue yet
        ("2026-10-10T16:00:00Z", {"overdue": 1}),  # 00:00 of 10-11
        ("2026-12-01T00:00:00Z", {}),  # the accept ladder ends at overdue
    ]
    for moment, fired in expected:
        result = tick(api, moment)
        assert {k: v for k, v in result["fired"].items() if v} == fired, moment
        tick(api, moment)  # a second scan at the same moment fires nothing more
        if moment == "2026-10-10T15:59:59Z":
            assert api.get(f"/items/{item['id']}").json()["light"] == "yellow"
    assert ladder_history(api, item["id"]) == ["reminder", "overdue"]
    final = api.get(f"/items/{item['id']}", expect=200).json()
    assert final["light"] == "red" and final["escalation_level"] == 1
    assert final["was_overdue"] is True and final["max_escalation_level"] == 1


def test_rectify_ladder_events_carry_the_deadline_kind(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    item = api.item(people["sup"])
    api.act(item["id"], "assign", people["sup"], unit_code="court", due_date="2026-10-30")
    api.act(item["id"], "accept", people["court"])
    assert tick(api, "2026-10-26T15:59:59Z")["fired"]["reminder"] == 0
    assert tick(api, "2026-10-26T16:00:00Z")["fired"]["reminder"] == 1  # W(-3, 10-30) = 10-27
    shown = api.get(f"/items/{item['id']}", expect=200).json()
    assert shown["light"] == "yellow" and shown["escalation_level"] == 0
    assert tick(api, "2026-10-30T16:00:00Z")["fired"]["overdue"] == 1
    assert api.get("/items?overdue=true", expect=200).json()["data"][0]["id"] == item["id"]
    assert api.get("/items?light=red", expect=200).json()["data"][0]["id"] == item["id"]
    hist = api.get(f"/items/{item['id']}/history", expect=200).json()["data"]
    overdue = next(h for h in hist if h["action"] == "overdue")
    assert overdue["data"]["deadline"] == "rectify" and overdue["data"]["level"] == 1
    assert overdue["data"]["scheduled_at"] == "2026-10-30T16:00:00Z"  # rendered UTC Z


def test_closing_stops_the_ladder(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    item = api.item(people["sup"])
    iid = item["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-10-30")
    api.act(iid, "accept", people["court"])
    api.evidence(iid, people["court"])
    api.act(iid, "submit", people["court"], comment="整改完成")
    api.act(iid, "verify", people["sup"])
    after = tick(api, "2026-12-31T00:00:00Z")
    assert sum(after["fired"].values()) == 0
    assert api.get(f"/items/{iid}", expect=200).json()["light"] == "none"


def test_reassign_rearms_the_ladder(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-11-30")
    tick(api, "2026-10-15T16:00:00Z")  # accept due W(3, 10-12)=10-15: overdue at 10-15T16Z
    assert api.get(f"/items/{iid}", expect=200).json()["escalation_level"] == 1
    api.act(iid, "reassign", people["sup"], unit_code="audit", comment="职责调整，改派审计局")
    shown = api.get(f"/items/{iid}", expect=200).json()
    assert shown["escalation_level"] == 0 and shown["light"] == "green"
    assert shown["max_escalation_level"] == 1 and shown["was_overdue"] is True
    assert shown["accept_due_date"] == "2026-10-21"  # W(3, 10-16)
    assert tick(api, "2026-10-21T16:00:00Z")["fired"]["overdue"] == 1


def test_a_reassign_records_its_dates_even_when_they_come_out_as_they_were(api, people):
    """API.md: entries that set a deadline record the effective dates. A reassign on the
    day of the assignment sets the same ones (same due date, sign-off W(3) from today)."""
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-11-30")
    api.act(iid, "reassign", people["sup"], unit_code="audit", comment="同日改派")
    entry = api.get(f"/items/{iid}/history", expect=200).json()["data"][-1]
    assert entry["action"] == "reassign"
    assert entry["data"]["due_date"] == "2026-11-30"
    assert entry["data"]["accept_due_date"] == "2026-10-15"


def test_extension_approval_moves_the_deadline_and_rearms(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-10-30")
    api.act(iid, "accept", people["court"])
    api.set_clock("2026-10-30T09:00:00Z")  # on the due date: still allowed

    ext = api.post(
        f"/items/{iid}/extensions",
        token=people["court"],
        json={"due_date": "2026-12-31", "reason": "涉及多部门协调，申请延期"},
        expect=201,
    ).json()
    assert ext["status"] == "pending"
    api.post(
        f"/items/{iid}/extensions",
        token=people["court"],
        json={"due_date": "2027-01-29", "reason": "再次申请"},
        expect=409,
    )
    tick(api, "2026-10-30T16:00:00Z")
    assert api.get(f"/items/{iid}", expect=200).json()["light"] == "red"
    api.post(
        f"/items/{iid}/extensions/{ext['id']}/approve",
        token=people["court"],
        json={"comment": "x"},
        expect=403,
    )
    decided = api.post(
        f"/items/{iid}/extensions/{ext['id']}/approve",
        token=people["sup"],
        json={"comment": "同意"},
        expect=200,
    ).json()
    assert decided["status"] == "approved"
    shown = api.get(f"/items/{iid}", expect=200).json()
    assert shown["due_date"] == "2026-12-31" and shown["light"] == "green"
    assert shown["escalation_level"] == 0  # the new deadline's level
    assert shown["max_escalation_level"] == 1 and shown["was_overdue"] is True  # the record stays
    assert tick(api, "2026-12-31T16:00:00Z")["fired"]["overdue"] == 1
    actions = [h["action"] for h in api.get(f"/items/{iid}/history").json()["data"]]
    assert actions.count("overdue") == 2
    assert "extension_requested" in actions and "extension_approved" in actions


def test_rejected_extension_leaves_the_deadline(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-10-30")
    ext = api.post(
        f"/items/{iid}/extensions",
        token=people["court"],
        json={"due_date": "2026-11-30", "reason": "理由"},
        expect=201,
    ).json()
    api.post(
        f"/items/{iid}/extensions/{ext['id']}/reject",
        token=people["sup"],
        json={"comment": "理由不充分"},
        expect=200,
    )
    assert api.get(f"/items/{iid}", expect=200).json()["due_date"] == "2026-10-30"
    api.post(f"/items/{iid}/extensions/{ext['id']}/approve", token=people["sup"], expect=409)


def test_due_date_in_2027_uses_the_fallback_calendar(api, people):
    api.set_clock("2026-12-28T02:00:00Z")
    iid = api.item(people["sup"], source="hotline")["id"]
    body = api.act(iid, "assign", people["sup"], unit_code="court").json()
    assert body["due_date"] == "2027-01-14"  # W(13, 12-28): 12-29..12-31, then Mon-Fri 2027
    api.act(iid, "accept", people["court"])
    assert tick(api, "2027-01-14T16:00:00Z")["fired"]["overdue"] == 1
    ready = api.client.get("/readyz").json()
    assert 2027 in ready["detail"]["calendar"]["fallback_years"]


def test_manual_escalation_fires_the_same_event_and_is_not_repeated(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-10-30")
    api.act(iid, "accept", people["court"])
    api.post(
        f"/admin/items/{iid}/escalate", token=people["court"], json={"reason": "x"}, expect=403
    )
    r = api.post(
        f"/admin/items/{iid}/escalate",
        token=people["sup"],
        json={"level": 2, "reason": "拖延整改，提级督办"},
        expect=200,
    )
    assert r.json()["escalation_level"] == 2
    sent = api.get("/events", params={"type": "item.escalated"}, expect=200).json()["data"]
    assert [e["data"]["deadline"] for e in sent] == ["rectify"]  # as the scan's events say
    assert (sent[0]["data"]["step"], sent[0]["data"]["manual"]) == ("supervise", True)
    api.post(f"/admin/items/{iid}/escalate", json={"level": 2, "reason": "again"}, expect=422)
    listed = api.get("/admin/escalations?level=2", expect=200).json()["data"]
    assert [i["id"] for i in listed] == [iid]
    fired = tick(api, "2026-11-06T16:00:00Z")["fired"]  # overdue and supervise both due
    assert fired["overdue"] == 0 and fired["supervise"] == 1  # catch-up: only the highest
    hist = api.get(f"/items/{iid}/history").json()["data"]
    supervise = next(h for h in hist if h["action"] == "supervise")
    assert "by hand" in supervise["data"]["note"]
    assert supervise["data"]["skipped"] == ["reminder", "overdue"]


def test_a_manual_step_to_level_1_sends_the_overdue_notice_once(api, people):
    """Level 1 is the ladder's ``overdue`` step: by hand it fires ``item.overdue`` (the
    same event), and when the due date passes the scan sends no second one."""
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-10-30")
    version = api.act(iid, "accept", people["court"]).json()["version"]
    path = f"/admin/items/{iid}/escalate"
    stale = {"If-Match": f'"{version - 1}"'}
    api.post(path, token=people["sup"], json={"reason": "x"}, headers=stale, expect=412)
    done = api.post(path, token=people["sup"], json={"reason": "进度滞后，提前预警"}, expect=200)
    assert done.json()["escalation_level"] == 1 and done.json()["light"] == "green"
    sent = api.get("/events", params={"subject": f"items/{iid}"}, expect=200).json()["data"]
    manual = [e for e in sent if e["type"] in ("item.overdue", "item.escalated")]
    assert [(e["type"], e["data"]["step"], e["data"]["manual"]) for e in manual] == [
        ("item.overdue", "overdue", True)
    ]
    assert tick(api, "2026-10-30T16:00:00Z")["fired"]["overdue"] == 1  # 00:00 of D+1
    after = api.get(f"/items/{iid}", expect=200).json()
    assert (after["light"], after["was_overdue"], after["escalation_level"]) == ("red", True, 1)
    overdue = api.get("/events", params={"type": "item.overdue"}, expect=200).json()["data"]
    assert len(overdue) == 1  # the manual one; the scan's was covered by it


def test_an_item_without_a_running_deadline_cannot_be_escalated(api, people):
    """``escalation_level`` is the running deadline's level: a found item (no unit, no
    date) and a verified one have none, so a manual step is 409 and sends nothing."""
    iid = api.item(people["sup"])["id"]
    body = {"reason": "提级"}
    refused = api.post(f"/admin/items/{iid}/escalate", token=people["sup"], json=body)
    assert refused.status_code == 409 and refused.json()["allowed_actions"] == [], refused.text
    got = api.get(f"/items/{iid}", expect=200).json()
    assert (got["escalation_level"], got["max_escalation_level"], got["version"]) == (0, 0, 1)
    assert api.get("/events", params={"type": "item.overdue"}, expect=200).json()["data"] == []


def test_calendar_endpoints_and_overrides(api, people):
    r = api.get("/calendar/workdays?from=2026-09-28&to=2026-10-11", expect=200).json()
    assert r["days"] == [
        "2026-09-28",
        "2026-09-29",
        "2026-09-30",
        "2026-10-08",
        "2026-10-09",
        "2026-10-10",
    ]
    api.call(
        "PUT", "/calendar/days/2026-10-09", token=people["sup"], json={"workday": False}, expect=403
    )
    api.call(
        "PUT", "/calendar/days/2026-10-09", json={"workday": False, "note": "台风停工"}, expect=200
    )
    r = api.get("/calendar/workdays?from=2026-10-08&to=2026-10-10", expect=200).json()
    assert r == {"workdays": 2, "days": ["2026-10-08", "2026-10-10"]}
    api.get("/calendar/workdays?from=2026-10-10&to=2026-10-08", expect=400)


def test_test_clock_is_absent_unless_enabled(api, people, monkeypatch):
    from app.settings import get_settings

    monkeypatch.setenv("RECTIFY_TEST_CLOCK", "0")
    get_settings.cache_clear()
    api.get("/admin/clock", expect=404)
    api.call("PUT", "/admin/clock", json={"now": "2026-01-01T00:00:00Z"}, expect=404)


def test_the_test_clock_answers_in_utc_whatever_offset_it_was_set_with(api, people):
    set_to = api.call("PUT", "/admin/clock", json={"now": "2026-11-05T10:00:00+08:00"}, expect=200)
    assert set_to.json() == {"now": "2026-11-05T02:00:00Z", "frozen": True}
    assert api.get("/admin/clock", expect=200).json() == set_to.json()


@pytest.mark.parametrize("now", [0, "0", 1760000000.5, "2026-10-12T02:00:00", "2026-10-12"])
def test_the_test_clock_is_set_to_a_moment_with_its_offset(api, people, now):
    """Not a Unix timestamp (pydantic's lax reading made 0 the epoch), nor a local time."""
    before = api.get("/admin/clock", expect=200).json()
    r = api.call("PUT", "/admin/clock", json={"now": now}, expect=422)
    assert r.json()["errors"][0]["field"] == "now"
    after = api.get("/admin/clock", expect=200).json()
    assert before["now"] <= after["now"] < "2027", (before, after)  # the clock ran on, unset


@pytest.mark.parametrize(
    "now", ["9999-12-30T00:00:00Z", "0001-01-01T00:00:00Z", "3000-01-01T00:00:00Z"]
)
def test_the_test_clock_stands_where_deadlines_can_run(api, people, now):
    """A clock near the year 9999 made assigning a 500 (the date arithmetic overflowed)
    and a year 1 clock numbered items ``1-000052``."""
    r = api.call("PUT", "/admin/clock", json={"now": now}, expect=422)
    assert r.json()["errors"][0]["field"] == "now"
    api.set_clock("2999-12-31T15:59:59Z")
    iid = api.item(people["sup"])["id"]
    assert api.act(iid, "assign", people["sup"], unit_code="court").json()["state"] == "assigned"


def test_far_dates_are_refused_or_answered_never_a_500(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    r = api.act(iid, "assign", people["sup"], unit_code="court", due_date="9999-12-31", expect=422)
    assert r.json()["errors"][0]["field"] == "due_date"
    r = api.get("/calendar/workdays?from=9999-12-30&to=9999-12-31", expect=200).json()
    assert r["days"] == ["9999-12-30", "9999-12-31"]  # Thu, Fri on the Mon-Fri fallback


def test_a_transition_sees_a_calendar_override_made_just_before_it(api, people):
    """Transitions read the overrides with their caller, and reuse a calendar built
    from the same overrides: a change must still show at once, either way."""
    api.set_clock("2026-10-12T02:00:00Z")

    def accept_due() -> str:
        iid = api.item(people["sup"])["id"]
        item = api.act(iid, "assign", people["sup"], unit_code="court").json()
        return item["accept_due_date"]

    before = accept_due()
    api.call("PUT", "/calendar/days/2026-10-13", json={"workday": False}, expect=200)
    later = accept_due()
    assert later > before
    api.call("PUT", "/calendar/days/2026-10-13", json={"workday": True}, expect=200)
    assert accept_due() == before
