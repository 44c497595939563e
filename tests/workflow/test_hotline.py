"""The 12345 hotline workflow (workflows/hotline.yaml) over HTTP.

Orders are dispatched on Wednesday 2026-09-30, the day before the National
Day holiday (Oct 1-7; Saturday Oct 10 is a make-up workday), so every period
crosses it. Asia/Shanghai is UTC+8: 10:00 local is 02:00Z.
"""

import pytest

from tests.factories import assert_problem

DISPATCH = "2026-09-30T02:00:00Z"


@pytest.fixture
def hotline(api):
    api.unit("city", "某市")
    api.unit("water", "市水务集团", parent="city")
    api.set_clock(DISPATCH)
    return {"sup": api.key("supervisor"), "water": api.key("unit", "water")}


def order(api, people, **fields) -> dict:
    return api.item(people["sup"], source="hotline", title="12345：小区停水三天无人处理", **fields)


def dispatched(api, people, **fields) -> dict:
    iid = order(api, people, **fields)["id"]
    return api.act(iid, "assign", people["sup"], unit_code="water").json()


def verified(api, people, **fields) -> dict:
    iid = dispatched(api, people, **fields)["id"]
    api.act(iid, "accept", people["water"])
    api.evidence(iid, people["water"])
    api.act(iid, "submit", people["water"], comment="已恢复供水并回复市民")
    return api.act(iid, "verify", people["sup"]).json()


def callback(api, people, iid, satisfaction, expect=200):
    return api.act(iid, "callback", people["sup"], satisfaction=satisfaction, expect=expect)


def test_hotline_items_take_the_hotline_workflow_with_its_default_type(api, hotline):
    item = order(api, hotline)
    assert item["workflow"] == {"name": "hotline", "version": 3}
    assert item["type"] == "complaint"
    assert (item["satisfaction"], item["redo_count"], item["duplicate_of"]) == (None, 0, None)
    assert item["duplicate_count"] == 0


def test_other_sources_keep_the_rectification_workflow_and_have_no_type(api, hotline):
    item = api.item(hotline["sup"], source="audit")
    assert item["workflow"]["name"] == "rectification" and item["type"] is None
    body = {"title": "审计发现", "source": "audit", "type": "help"}
    r = api.post("/items", token=hotline["sup"], json=body)
    assert assert_problem(r, 422)["errors"][0]["field"] == "type"


def test_an_explicit_workflow_wins_over_the_source(api, hotline):
    petition = api.item(hotline["sup"], source="petition", workflow="hotline", type="report")
    assert petition["workflow"]["name"] == "hotline" and petition["type"] == "report"
    pinned = api.item(hotline["sup"], source="hotline", workflow="rectification")
    assert pinned["workflow"]["name"] == "rectification" and pinned["type"] is None


def test_an_unknown_type_is_refused(api, hotline):
    r = api.post(
        "/items",
        token=hotline["sup"],
        json={"title": "热线", "source": "hotline", "type": "praise"},
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "type"


@pytest.mark.parametrize(
    ("order_type", "due"),
    [
        ("consult", "2026-10-08"),  # W(1): the first workday after the holiday
        ("help", "2026-10-10"),  # W(3): Oct 8, Oct 9, make-up Saturday Oct 10
        ("complaint", "2026-10-23"),  # W(13)
        ("report", "2026-10-23"),
        ("suggestion", "2026-10-23"),
    ],
)
def test_periods_by_type_count_workdays_across_the_holiday(api, hotline, order_type, due):
    item = dispatched(api, hotline, type=order_type)
    assert item["due_date"] == due
    assert item["accept_due_date"] == "2026-10-08"  # sign-off within one workday


def test_a_dissatisfied_callback_sends_the_order_back_for_redo_with_a_new_period(api, hotline):
    item = verified(api, hotline)
    assert (item["state"], item["due_date"]) == ("verified", "2026-10-23")
    api.set_clock("2026-10-12T02:00:00Z")  # Monday
    redo = callback(api, hotline, item["id"], "dissatisfied").json()
    assert redo["state"] == "rectifying" and not redo["review_pending"]
    assert redo["due_date"] == "2026-10-29"  # W(13, 2026-10-12)
    assert (redo["redo_count"], redo["satisfaction"]) == (1, "dissatisfied")
    assert redo["resolution"] is None and redo["light"] == "green"
    events = api.get("/events", params={"type": "item.redo"}, expect=200).json()["data"]
    assert [e["subject"] for e in events] == [f"items/{item['id']}"]
    assert events[0]["data"]["item"]["redo_count"] == 1

    api.evidence(item["id"], hotline["water"], content=b"second report")
    api.act(item["id"], "submit", hotline["water"], comment="已彻底修复管网")
    api.act(item["id"], "verify", hotline["sup"])
    closed = callback(api, hotline, item["id"], "satisfied").json()
    assert (closed["state"], closed["resolution"]) == ("closed", "rectified")
    assert (closed["satisfaction"], closed["redo_count"]) == ("satisfied", 1)
    assert closed["closed_at"] is not None
    actions = [h["action"] for h in api.history(item["id"])]
    assert actions.count("callback") == 2
    assert api.get(f"/items/{item['id']}/history/verify", expect=200).json()["ok"]


@pytest.mark.parametrize("result", ["satisfied", "basically_satisfied", "unreachable"])
def test_settled_callbacks_close_the_order(api, hotline, result):
    item = verified(api, hotline)
    closed = callback(api, hotline, item["id"], result).json()
    assert (closed["state"], closed["resolution"], closed["satisfaction"]) == (
        "closed",
        "rectified",
        result,
    )
    closed_events = api.get("/events", params={"type": "item.closed"}, expect=200).json()["data"]
    assert len(closed_events) == 1


def test_there_is_no_close_without_a_callback(api, hotline):
    item = verified(api, hotline)
    r = api.act(item["id"], "close", hotline["sup"], expect=None)
    assert assert_problem(r, 409)["allowed_actions"] == ["callback"]
    assert "no 'close'" in r.json()["detail"]
    r = api.act(item["id"], "fly", hotline["sup"], expect=None)  # no workflow's action
    assert assert_problem(r, 422)["errors"][0]["field"] == "action"
    actions = api.get(f"/items/{item['id']}/actions", token=hotline["sup"], expect=200).json()
    assert [a["name"] for a in actions["actions"]] == ["callback"]
    r = api.act(item["id"], "callback", hotline["sup"], expect=None)
    assert assert_problem(r, 422)["errors"][0]["field"] == "satisfaction"
    r = callback(api, hotline, item["id"], "thrilled", expect=None)
    assert_problem(r, 422)


def test_callback_is_for_supervisors_only_and_only_after_verification(api, hotline):
    item = verified(api, hotline)
    assert_problem(callback(api, {"sup": hotline["water"]}, item["id"], "satisfied", None), 403)
    fresh = dispatched(api, hotline)
    assert_problem(callback(api, hotline, fresh["id"], "satisfied", None), 409)


def test_a_supervisor_urges_a_dispatched_or_running_order_and_it_stays_where_it_is(api, hotline):
    """催办, as on any item (API.md: ``urge`` on assigned or rectifying items)."""
    item = dispatched(api, hotline)
    urged = api.act(item["id"], "urge", hotline["sup"], comment="市民再次来电催促").json()
    assert (urged["state"], urged["due_date"]) == ("assigned", item["due_date"])
    api.act(item["id"], "accept", hotline["water"])
    assert api.act(item["id"], "urge", hotline["sup"]).json()["state"] == "rectifying"
    assert [h["action"] for h in api.history(item["id"])][-3:] == ["urge", "accept", "urge"]
    feed = api.get("/events", params={"subject": f"items/{item['id']}", "type": "item.urged"})
    assert len(feed.json()["data"]) == 2
    assert_problem(api.act(item["id"], "urge", hotline["water"], expect=None), 403)
    fresh = order(api, hotline)
    assert_problem(api.act(fresh["id"], "urge", hotline["sup"], expect=None), 409)


def test_merging_a_duplicate_order_closes_it_and_counts_it_on_the_original(api, hotline):
    original = dispatched(api, hotline)
    duplicate = order(api, hotline)
    r = api.post(
        f"/items/{duplicate['id']}/merge",
        token=hotline["sup"],
        json={"into": original["id"], "comment": "同一小区停水，重复来电"},
        expect=200,
    )
    merged = r.json()
    assert (merged["state"], merged["resolution"]) == ("closed", "duplicate")
    assert merged["duplicate_of"] == original["id"] and r.headers["ETag"] == '"2"'
    again = api.get(f"/items/{original['id']}", expect=200).json()
    assert again["duplicate_count"] == 1 and again["version"] == original["version"] + 1
    events = api.get("/events", params={"type": "item.merged"}, expect=200).json()["data"]
    assert [e["subject"] for e in events] == [f"items/{duplicate['id']}"]
    assert api.history(original["id"])[-1]["data"]["duplicate"] == duplicate["id"]
    for iid in (original["id"], duplicate["id"]):
        assert api.get(f"/items/{iid}/history/verify", expect=200).json()["ok"]


def test_a_duplicate_reopened_is_an_order_of_its_own_again(api, hotline):
    """误合并: reopening a merged order left it ``duplicate_of`` the original, still
    counted there, and it could not be merged anywhere else."""
    original, duplicate, other = (dispatched(api, hotline) for _ in range(3))
    merge = {"into": original["id"], "comment": "重复来电"}
    api.post(f"/items/{duplicate['id']}/merge", token=hotline["sup"], json=merge, expect=200)
    body = {"comment": "误合并，诉求不同", "due_date": "2026-10-30"}
    reopened = api.act(duplicate["id"], "reopen", hotline["sup"], **body).json()
    assert (reopened["state"], reopened["resolution"]) == ("rectifying", None)
    assert reopened["duplicate_of"] is None
    assert api.history(duplicate["id"])[-1]["data"]["previous_duplicate_of"] == original["id"]
    again = api.get(f"/items/{original['id']}", expect=200).json()
    assert again["duplicate_count"] == 0
    assert api.history(original["id"])[-1]["action"] == "merged_out"
    merge = {"into": duplicate["id"], "comment": "与重开的工单重复"}  # was 422: "a duplicate"
    api.post(f"/items/{other['id']}/merge", token=hotline["sup"], json=merge, expect=200)
    for iid in (original["id"], duplicate["id"], other["id"]):
        assert api.get(f"/items/{iid}/history/verify", expect=200).json()["ok"]


def test_merge_refusals(api, hotline):
    original = dispatched(api, hotline)
    rectifying = dispatched(api, hotline)
    api.act(rectifying["id"], "accept", hotline["water"])
    body = {"into": original["id"]}
    r = api.post(f"/items/{rectifying['id']}/merge", token=hotline["sup"], json=body)
    assert assert_problem(r, 409)["state"] == "rectifying"
    fresh = order(api, hotline)
    r = api.post(f"/items/{fresh['id']}/merge", token=hotline["sup"], json={"into": fresh["id"]})
    assert assert_problem(r, 422)["errors"][0]["field"] == "into"
    r = api.post(f"/items/{fresh['id']}/merge", token=hotline["sup"], json={"into": 999999})
    assert assert_problem(r, 422)["errors"][0]["field"] == "into"
    r = api.post(f"/items/{fresh['id']}/merge", token=hotline["water"], json=body)
    assert_problem(r, 403)
    api.post(f"/items/{fresh['id']}/merge", token=hotline["sup"], json=body, expect=200)
    other = order(api, hotline)
    r = api.post(f"/items/{other['id']}/merge", token=hotline["sup"], json={"into": fresh["id"]})
    assert str(original["id"]) in assert_problem(r, 422)["errors"][0]["message"]
    audit = api.item(token=hotline["sup"])  # under rectification, which has no merge
    r = api.post(f"/items/{audit['id']}/merge", token=hotline["sup"], json=body)
    assert "assign" in assert_problem(r, 409)["allowed_actions"]


def test_satisfaction_rate_and_redo_count_from_a_known_mix(api, hotline):
    for result in ("satisfied", "basically_satisfied", "unreachable"):
        callback(api, hotline, verified(api, hotline)["id"], result)
    redone = verified(api, hotline, type="help")
    callback(api, hotline, redone["id"], "dissatisfied")
    duplicate = order(api, hotline)
    api.post(
        f"/items/{duplicate['id']}/merge",
        token=hotline["sup"],
        json={"into": redone["id"]},
        expect=200,
    )
    api.item(hotline["sup"], source="audit")  # no callback: counts in no rate

    summary = api.get("/reports/summary", token=hotline["sup"], expect=200).json()
    # (satisfied + basically satisfied) / callbacks other than unreachable = 2 / 3
    assert summary["satisfaction_rate"] == pytest.approx(0.6667)
    assert summary["redo"] == 1
    assert summary["total"] == 6 and summary["rectified"] == 3
    helped = api.get("/reports/summary", params={"type": "help"}, expect=200).json()
    assert (helped["total"], helped["satisfaction_rate"], helped["redo"]) == (1, 0.0, 1)
    empty = api.get("/reports/summary", params={"source": "audit"}, expect=200).json()
    assert empty["satisfaction_rate"] is None and empty["redo"] == 0


def test_the_satisfaction_rate_counts_every_callback_of_an_order_not_only_its_latest(api, hotline):
    """满意率 = (satisfied + basically satisfied) / callbacks other than unreachable."""
    iid = verified(api, hotline)["id"]
    callback(api, hotline, iid, "dissatisfied")
    api.evidence(iid, hotline["water"], content=b"second report")
    api.act(iid, "submit", hotline["water"], comment="已彻底修复管网")
    api.act(iid, "verify", hotline["sup"])
    callback(api, hotline, iid, "satisfied")
    rate = api.get("/reports/summary", token=hotline["sup"], expect=200).json()
    assert (rate["satisfaction_rate"], rate["redo"]) == (0.5, 1)  # 1 of 2, not 1 of 1

    api.act(iid, "reopen", hotline["sup"], comment="市民再次反映", due_date="2026-12-31")
    api.evidence(iid, hotline["water"], content=b"third report")
    api.act(iid, "submit", hotline["water"], comment="已复查")
    api.act(iid, "verify", hotline["sup"])
    callback(api, hotline, iid, "basically_satisfied")
    rate = api.get("/reports/summary", token=hotline["sup"], expect=200).json()
    assert rate["satisfaction_rate"] == pytest.approx(0.6667)  # 2 of 3
    period = api.get(
        "/reports/period", params={"from": "2026-09-01", "to": "2026-12-31"}, expect=200
    ).json()
    assert period["totals"]["satisfaction_rate"] == pytest.approx(0.6667)


def test_the_diagram_shows_the_callback_loop(api, hotline):
    text = api.get("/workflows/hotline/diagram", expect=200).text
    assert "verified --> closed : callback 回访 [caller_settled]" in text
    assert "verified --> rectifying : callback 回访 [caller_dissatisfied]" in text
    assert "merge" in text


def test_the_ledger_writes_and_reads_back_order_type_and_satisfaction(api, hotline):
    item = verified(api, hotline, type="suggestion", external_ref="12345-20260930-0001")
    callback(api, hotline, item["id"], "basically_satisfied")
    r = api.get("/items/export", params={"format": "csv"}, expect=200)
    header, row = r.content.decode("utf-8-sig").splitlines()[:2]
    assert "工单类型" in header and "满意度" in header
    assert "建议" in row and "基本满意" in row
    csv_body = "标题,来源,工单类型\r\n路灯不亮,12345热线,求助\r\n咨询社保,12345热线,consult\r\n"
    files = {"file": ("ledger.csv", csv_body.encode("utf-8-sig"), "text/csv")}
    r = api.post("/items/import", token=hotline["sup"], files=files, expect=201)
    assert r.json()["created"] == 2
    got = api.get("/items", params={"q": "路灯不亮"}, expect=200).json()["data"]
    assert got[0]["type"] == "help" and got[0]["workflow"]["name"] == "hotline"
    bad = "标题,来源,工单类型\r\n路灯,12345热线,表扬\r\n".encode()
    files = {"file": ("bad.csv", bad, "text/csv")}
    r = api.post("/items/import", token=hotline["sup"], files=files)
    assert assert_problem(r, 422)["errors"][0]["field"] == "type"
