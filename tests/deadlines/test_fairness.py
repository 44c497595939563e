"""Deadlines that are fair to units and a record that cannot be gamed (API.md,
"Deadlines, lights and escalation"), over HTTP with the test clock.

Asia/Shanghai is UTC+8: 00:00 local of day D is 16:00Z of D-1.
"""

from datetime import date

import pytest

from app.deadlines.calendar import WorkdayCalendar
from tests.factories import assert_problem


@pytest.fixture
def people(api):
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    return {"sup": api.key("supervisor"), "court": api.key("unit", "court")}


def tick(api, at: str) -> dict:
    api.set_clock(at)
    fired = api.post("/admin/scheduler/tick", expect=200).json()["fired"]
    return {k: v for k, v in fired.items() if v}


def show(api, iid) -> dict:
    return api.get(f"/items/{iid}", expect=200).json()


def rectifying(api, people, due: str, **fields) -> int:
    iid = api.item(people["sup"], **fields)["id"]
    api.act(iid, "assign", people["sup"], unit_code="court", due_date=due)
    api.act(iid, "accept", people["court"])
    return iid


def submit(api, people, iid) -> None:
    api.evidence(iid, people["court"])
    api.act(iid, "submit", people["court"], comment="整改完成，申请销号")


def test_sign_off_due_on_10_10_is_green_on_the_day_of_assignment_and_red_from_10_11(api, people):
    api.set_clock("2026-09-30T02:00:00Z")
    iid = api.item(people["sup"])["id"]
    body = api.act(iid, "assign", people["sup"], unit_code="court", due_date="2026-12-31").json()
    assert (body["accept_due_date"], body["light"]) == ("2026-10-10", "green")
    assert tick(api, "2026-09-30T15:59:59Z") == {}
    assert show(api, iid)["light"] == "green"
    assert tick(api, "2026-10-10T15:59:59Z") == {"reminder": 1}  # 10-10 23:59:59 local
    assert show(api, iid)["light"] == "yellow"
    assert tick(api, "2026-10-10T16:00:00Z") == {"overdue": 1}  # 10-11 00:00 local
    shown = show(api, iid)
    assert shown["light"] == "red" and shown["was_overdue"] is True


def test_review_pause_request_on_the_due_date_rejected_4_workdays_later(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = rectifying(api, people, "2026-11-06")
    api.set_clock("2026-11-06T02:00:00Z")  # Friday, the due date
    submit(api, people, iid)
    assert show(api, iid)["light"] == "paused"
    assert tick(api, "2026-11-06T16:00:00Z") == {}  # the due date ends under review
    assert tick(api, "2026-11-11T16:00:00Z") == {}
    assert api.get("/items", params={"light": "paused"}).json()["data"][0]["id"] == iid
    api.set_clock("2026-11-12T02:00:00Z")  # Thursday: Mon, Tue, Wed, Thu = 4 workdays
    shown = api.act(iid, "reject", people["sup"], comment="佐证材料不充分").json()
    assert shown["due_date"] == "2026-11-12"  # W(4, 11-06)
    assert shown["was_overdue"] is False and shown["light"] == "yellow"
    entry = api.history(iid)[-1]
    assert entry["action"] == "reject"
    assert entry["data"]["previous_due_date"] == "2026-11-06"
    assert entry["data"]["due_date"] == "2026-11-12" and entry["data"]["paused_workdays"] == 4
    assert entry["data"]["accept_due_date"] == shown["accept_due_date"]
    # the ladder resumes on the moved date (its reminder moment has passed: caught up)
    assert tick(api, "2026-11-12T15:59:59Z") == {"reminder": 1}
    assert show(api, iid)["was_overdue"] is False
    assert tick(api, "2026-11-12T16:00:00Z") == {"overdue": 1}


def test_a_request_made_after_the_due_date_moves_nothing(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = rectifying(api, people, "2026-11-06")
    api.set_clock("2026-11-09T02:00:00Z")  # late, and no scan noticed it yet
    submit(api, people, iid)
    assert show(api, iid)["was_overdue"] is True
    api.set_clock("2026-11-12T02:00:00Z")
    shown = api.act(iid, "reject", people["sup"], comment="逾期且材料不全").json()
    assert shown["due_date"] == "2026-11-06" and shown["light"] == "red"
    assert "previous_due_date" not in api.history(iid)[-1]["data"]


def test_an_extension_approved_after_the_due_date_never_clears_the_record(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = rectifying(api, people, "2026-10-30")
    api.set_clock("2026-10-30T09:00:00Z")  # on the due date: a request is still allowed
    ext = api.post(
        f"/items/{iid}/extensions",
        token=people["court"],
        json={"due_date": "2026-12-31", "reason": "涉及多部门协调"},
        expect=201,
    ).json()
    api.set_clock("2026-11-03T02:00:00Z")  # decided late; no scan ran meanwhile
    api.post(f"/items/{iid}/extensions/{ext['id']}/approve", token=people["sup"], json={})
    shown = show(api, iid)
    assert shown["due_date"] == "2026-12-31" and shown["light"] == "green"
    assert shown["escalation_level"] == 0
    assert shown["was_overdue"] is True and shown["on_time"] is None
    entry = api.history(iid)[-1]
    assert entry["action"] == "extension_approved"
    assert (entry["data"]["due_date"], entry["data"]["accept_due_date"]) == (
        "2026-12-31",
        shown["accept_due_date"],
    )
    submit(api, people, iid)  # well before the new date
    api.act(iid, "verify", people["sup"])
    closed = api.act(iid, "close", people["sup"]).json()
    assert closed["was_overdue"] is True and closed["on_time"] is False


def _request(api, people, iid, due="2026-11-13") -> dict:
    body = {"due_date": due, "reason": "涉及多部门协调"}
    return api.post(f"/items/{iid}/extensions", token=people["court"], json=body, expect=201).json()


def test_a_request_outlived_by_its_deadline_can_only_be_rejected(api, people):
    """The audit's repros: approving a request after the item was closed rewrote the
    closed item's due date; after a reassign, the former lead's request overrode the
    new lead's deadline. Both are 409; rejecting still clears the request."""
    api.unit("bureau", "市审计局")
    api.set_clock("2026-10-12T02:00:00Z")
    closed = rectifying(api, people, "2026-10-30")
    late = _request(api, people, closed)
    submit(api, people, closed)
    api.act(closed, "verify", people["sup"])
    api.act(closed, "close", people["sup"])
    path = f"/items/{closed}/extensions/{late['id']}"
    assert_problem(api.post(f"{path}/approve", token=people["sup"], json={}), 409)
    assert show(api, closed)["due_date"] == "2026-10-30"

    handed = rectifying(api, people, "2026-10-30")
    former = _request(api, people, handed)
    api.act(
        handed, "reassign", people["sup"], unit_code="bureau", due_date="2026-11-06", comment="改派"
    )
    path = f"/items/{handed}/extensions/{former['id']}"
    assert_problem(api.post(f"{path}/approve", token=people["sup"], json={}), 409)
    assert show(api, handed)["due_date"] == "2026-11-06"
    rejected = api.post(f"{path}/reject", token=people["sup"], json={"comment": "已改派"})
    assert rejected.json()["status"] == "rejected"


def test_a_request_made_under_review_still_stands_after_the_rejection(api, people):
    """A rejected closure request moves the due date (the review pause), but the item
    keeps its unit and its deadline: the pending request is decided as usual."""
    api.set_clock("2026-10-12T02:00:00Z")
    iid = rectifying(api, people, "2026-10-30")
    submit(api, people, iid)
    ext = _request(api, people, iid, due="2026-12-31")
    api.set_clock("2026-10-15T02:00:00Z")
    api.act(iid, "reject", people["sup"], comment="佐证不足")
    api.post(f"/items/{iid}/extensions/{ext['id']}/approve", token=people["sup"], json={})
    assert show(api, iid)["due_date"] == "2026-12-31"


def test_extension_requests_after_the_due_date_are_409(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = rectifying(api, people, "2026-10-30")
    actions = api.get(f"/items/{iid}/actions", token=people["court"]).json()["actions"]
    ext = next(a for a in actions if a["name"] == "request_extension")
    assert ext == {
        "name": "request_extension",
        "label": "申请延期",
        "requires": ["due_date", "reason"],
        "enabled": True,
        "reason": None,
    }
    sup_actions = api.get(f"/items/{iid}/actions", token=people["sup"]).json()["actions"]
    assert "request_extension" not in {a["name"] for a in sup_actions}
    api.set_clock("2026-10-30T16:00:00Z")  # 10-31 00:00 local
    r = api.post(
        f"/items/{iid}/extensions",
        token=people["court"],
        json={"due_date": "2026-12-31", "reason": "来不及了"},
    )
    assert assert_problem(r, 409)["detail"] == "逾期后不能申请延期"
    actions = api.get(f"/items/{iid}/actions", token=people["court"]).json()["actions"]
    ext = next(a for a in actions if a["name"] == "request_extension")
    assert ext["enabled"] is False and ext["reason"] == "逾期后不能申请延期"


def test_on_time_follows_the_closure_request_not_the_slow_review(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    on_time = rectifying(api, people, "2026-10-30")
    late = rectifying(api, people, "2026-10-20")
    assert show(api, on_time)["on_time"] is None
    api.set_clock("2026-10-30T09:00:00Z")
    submit(api, people, on_time)
    submit(api, people, late)
    api.set_clock("2026-11-20T02:00:00Z")  # the review took three weeks
    for iid in (on_time, late):
        api.act(iid, "verify", people["sup"])
        api.act(iid, "close", people["sup"])
    assert show(api, on_time)["on_time"] is True and show(api, on_time)["was_overdue"] is False
    assert show(api, late)["on_time"] is False and show(api, late)["was_overdue"] is True
    assert api.get("/reports/summary", expect=200).json()["on_time_rate"] == 0.5
    assert {i["id"] for i in api.get("/items?was_overdue=true").json()["data"]} == {late}
    api.set_clock("2026-11-23T02:00:00Z")
    api.act(on_time, "reopen", people["sup"], comment="回头看", due_date="2026-12-31")
    assert show(api, on_time)["on_time"] is None  # open again: no verdict yet


def test_a_two_month_inspection_deadline_ending_on_a_sunday_ends_on_the_monday(api, people):
    api.set_clock("2026-09-29T02:00:00Z")  # Tuesday; two months later is Sunday 11-29
    iid = api.item(people["sup"], source="inspection")["id"]
    body = api.act(iid, "assign", people["sup"], unit_code="court").json()
    assert body["due_date"] == "2026-11-30"
    entry = api.history(iid)[-1]
    assert entry["action"] == "assign"
    assert entry["data"]["due_date"] == "2026-11-30"  # the default date is recorded too
    assert entry["data"]["accept_due_date"] == body["accept_due_date"] == "2026-10-09"


def test_hotline_orders_are_signed_for_within_one_workday(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = api.item(people["sup"], source="hotline")["id"]
    body = api.act(iid, "assign", people["sup"], unit_code="court").json()
    assert (body["accept_due_date"], body["due_date"]) == ("2026-10-13", "2026-10-29")


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2026-09-29", 2, "2026-11-30"),  # Sunday 11-29 -> Monday
        ("2026-08-01", 2, "2026-10-08"),  # National Day holidays -> the first workday after
        ("2026-01-31", 1, "2026-02-28"),  # clamped to February's last day, a make-up workday
        ("2026-08-31", 1, "2026-09-30"),  # clamped
        ("2026-11-15", 2, "2027-01-15"),  # across the year
    ],
)
def test_calendar_months(start, months, end):
    cal = WorkdayCalendar()
    assert cal.add_months(date.fromisoformat(start), months) == date.fromisoformat(end)


def test_catch_up_fires_only_the_highest_step_and_sends_no_stale_notices(api, people):
    api.set_clock("2026-10-12T02:00:00Z")
    iid = rectifying(api, people, "2026-10-30")
    before = api.get("/events", params={"limit": 500}).json()["next_cursor"]
    assert tick(api, "2026-11-20T00:00:00Z") == {"summon": 1}  # everything came due at once
    entry = api.history(iid)[-1]
    assert entry["action"] == "summon"
    assert entry["data"]["skipped"] == ["reminder", "overdue", "supervise"]
    events = api.get("/events", params={"after": before, "limit": 500}).json()["data"]
    assert [e["type"] for e in events] == ["item.escalated"]
    shown = show(api, iid)
    assert shown["escalation_level"] == shown["max_escalation_level"] == 3
    assert shown["was_overdue"] is True
