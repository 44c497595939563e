"""The period report (月度调度) and the circular (通报): figures by hand, documents that
hold the same figures as the JSON."""

import io
import zipfile

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import event

from tests.factories import assert_problem

pytestmark = pytest.mark.db

T1, T2, T3, T4 = (
    "2026-02-10T02:00:00Z",
    "2026-03-10T02:00:00Z",
    "2026-03-16T02:00:00Z",
    "2026-04-02T02:00:00Z",
)
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def _assigned(api, sup, source, unit, due):
    item = api.item(sup, source=source)
    api.act(item["id"], "assign", sup, unit_code=unit, due_date=due)
    return item["id"]


def _to_verified(api, sup, unit_key, item_id):
    api.act(item_id, "accept", unit_key)
    api.evidence(item_id, unit_key)
    api.act(item_id, "submit", unit_key, comment="已整改")
    api.act(item_id, "verify", sup)


@pytest.fixture
def month(api):
    """A (audit, 县教育局, overdue), B (audit, court, closed on time), W (withdrawn),
    C (hotline, 县, created in March, overdue), D (hotline, unassigned), E (submitted
    after its due date: not on time),
    F (created after the period)."""
    api.unit("xian", "青山县")
    api.unit("xian-edu", "青山县教育局", parent="xian")
    api.unit("court", "市中级人民法院")
    sup = api.key("supervisor")
    court = api.key("unit", "court")
    xian = api.key("unit", "xian")
    api.set_clock(T1)
    a = _assigned(api, sup, "audit", "xian-edu", "2026-02-27")
    api.act(a, "accept", xian)
    b = _assigned(api, sup, "audit", "court", "2026-04-30")
    _to_verified(api, sup, court, b)
    w = _assigned(api, sup, "inspection", "court", "2026-04-30")
    api.set_clock(T2)
    api.act(b, "close", sup)
    api.act(w, "withdraw", sup, comment="重复立项")
    c = _assigned(api, sup, "hotline", "xian", "2026-03-20")
    d = api.item(sup, source="hotline")["id"]
    e = _assigned(api, sup, "inspection", "court", "2026-03-12")
    api.set_clock(T3)  # after E's due date: its closure request is late
    _to_verified(api, sup, court, e)
    api.act(e, "close", sup)
    api.set_clock(T4)
    api.item(sup, source="audit")
    api.post("/admin/scheduler/tick", expect=200)
    return {"sup": sup, "xian": xian, "ids": {"a": a, "b": b, "c": c, "d": d, "e": e, "w": w}}


def _figures(**kw):
    keys = (
        "new",
        "closed",
        "rectified",
        "open_at_end",
        "overdue_at_end",
        "cumulative_rectified",
        "rectification_rate",
        "on_time_rate",
    )
    return dict(zip(keys, kw["f"], strict=True))


def _pick(group: dict) -> dict:
    return {k: group[k] for k in _figures(f=[0] * 8)}


def test_period_by_source_counts_new_closed_open_and_cumulative(api, month):
    body = api.get("/reports/period", params={**MARCH, "group": "source"}, expect=200).json()
    assert (body["from"], body["to"], body["group"]) == ("2026-03-01", "2026-03-31", "source")
    assert _pick(body["totals"]) == _figures(f=[3, 3, 2, 3, 2, 2, 0.5, 0.5])
    got = {g["key"]: _pick(g) for g in body["groups"]}
    assert got == {
        "audit": _figures(f=[0, 1, 1, 1, 1, 1, 0.5, 1.0]),
        "inspection": _figures(f=[1, 2, 1, 0, 0, 1, 1.0, 0.0]),
        "hotline": _figures(f=[2, 0, 0, 2, 1, 0, 0.0, None]),
    }
    assert {g["key"]: g["label"] for g in body["groups"]}["hotline"] == "12345热线"
    assert body["totals"]["satisfaction_rate"] is None


def test_period_by_unit_rolls_up_to_top_level_units_ranked(api, month):
    body = api.get("/reports/period", params={**MARCH, "group": "unit"}, expect=200).json()
    groups = body["groups"]
    assert [(g["key"], g["rank"]) for g in groups] == [("court", 1), ("xian", 2), (None, None)]
    court, xian, unassigned = groups
    assert _pick(court) == _figures(f=[1, 3, 2, 0, 0, 2, 1.0, 0.5])
    assert _pick(xian) == _figures(f=[1, 0, 0, 2, 2, 0, 0.0, None])
    assert [(c["key"], c["label"]) for c in xian["children"]] == [("xian-edu", "青山县教育局")]
    assert _pick(xian["children"][0]) == _figures(f=[0, 0, 0, 1, 1, 0, 0.0, None])
    assert court["children"] == [] and unassigned["label"] == "（未交办）"
    assert _pick(unassigned) == _figures(f=[1, 0, 0, 1, 0, 0, None, None])


def test_a_unit_key_sees_only_its_subtree(api, month):
    body = api.get(
        "/reports/period", params={**MARCH, "group": "unit"}, token=month["xian"], expect=200
    ).json()
    assert [g["key"] for g in body["groups"]] == ["xian"]
    assert body["totals"]["open_at_end"] == 2


def test_the_xlsx_has_the_table_and_a_native_bar_chart(api, month):
    r = api.get("/reports/period", params={**MARCH, "group": "unit", "format": "xlsx"}, expect=200)
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["月度调度"]
    charts = ws._charts
    assert len(charts) == 1 and charts[0].tagname == "barChart"
    rows = [list(row) for row in ws.iter_rows(min_row=3, values_only=True)]
    court = next(row for row in rows if row[1] == "市中级人民法院")
    assert court[:8] == [1, "市中级人民法院", 1, 3, 2, 0, 0, 2] and court[8] == "100.0%"
    assert rows[-1][1] == "合计" and rows[-1][2:8] == [3, 3, 2, 3, 2, 2]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any(n.startswith("xl/charts/chart") for n in names)


def test_the_docx_holds_the_figures_the_json_gives_and_the_escalated_items(api, month):
    params = {**MARCH, "group": "source"}
    body = api.get("/reports/period", params=params, expect=200).json()
    r = api.get("/reports/period", params={**params, "format": "docx"}, expect=200)
    doc = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "问题整改进展情况（2026-03-01至2026-03-31）" in text
    t = body["totals"]
    assert f"本期新增问题{t['new']}个，办结{t['closed']}个" in text and "整改率50.0%" in text
    table = doc.tables[0]
    cells = [[c.text for c in row.cells] for row in table.rows]
    hotline = next(row for row in cells if row[1] == "12345热线")
    g = next(g for g in body["groups"] if g["key"] == "hotline")
    assert hotline[2:8] == [
        str(g[k])
        for k in (
            "new",
            "closed",
            "rectified",
            "open_at_end",
            "overdue_at_end",
            "cumulative_rectified",
        )
    ]
    escalated = [[c.text for c in row.cells] for row in doc.tables[1].rows][1:]
    numbers = {row[1] for row in escalated}
    items = {k: api.get(f"/items/{v}", expect=200).json() for k, v in month["ids"].items()}
    assert numbers == {items["a"]["number"], items["c"]["number"]}


def test_the_circular_names_units_with_items_at_or_above_the_level(api, month):
    body = api.get("/reports/circular", params={"min_level": 2}, expect=200).json()
    assert sorted(u["unit_code"] for u in body["data"]) == ["xian", "xian-edu"]
    assert (body["total"], body["truncated"]) == (2, False)
    items = {i["id"]: i for u in body["data"] for i in u["items"]}
    a = items[month["ids"]["a"]]
    # (02-27, 04-02]: 22 workdays in March, 2 in April, and Saturday 02-28 (调休)
    assert a["level"] == 3 and a["due_date"] == "2026-02-27" and a["workdays_overdue"] == 25
    # C was never signed for: its level is on the sign-off date, (03-11, 04-02] late,
    # not on its due date (03-20, nine workdays)
    c = items[month["ids"]["c"]]
    assert (c["due_date"], c["workdays_overdue"]) == ("2026-03-11", 16)
    assert api.get("/reports/circular", params={"min_level": 4}, expect=200).json()["data"] == []
    r = api.get("/reports/circular", params={"format": "docx"}, expect=200)
    doc = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "青山县教育局（1个）" in text and "2个问题" in text


def test_bad_period_parameters_are_400_or_422(api, month):
    assert_problem(
        api.get("/reports/period", params={"from": "2026-03-31", "to": "2026-03-01"}), 400
    )
    assert_problem(api.get("/reports/period", params={**MARCH, "group": "colour"}), 400)
    assert_problem(api.get("/reports/period", params={**MARCH, "format": "pdf"}), 400)
    assert_problem(api.get("/reports/period", params={"from": "0", "to": "2026-03-31"}), 400)
    assert_problem(api.get("/calendar/workdays", params={"from": "0", "to": "1"}), 400)
    # the first and last days of the calendar have no local midnight in UTC on both sides
    for ends in ({"from": "0001-01-01", "to": "2026-01-01"}, {**MARCH, "to": "9999-12-31"}):
        assert_problem(api.get("/reports/period", params=ends), 400)


def test_period_by_order_type_gives_the_hotlines_satisfaction_and_redo(api):
    api.unit("water", "市水务集团")
    sup, water = api.key("supervisor"), api.key("unit", "water")
    api.set_clock(T2)
    results = {"help": "satisfied", "complaint": "dissatisfied", "suggestion": "unreachable"}
    for order_type, result in results.items():
        iid = api.item(sup, source="hotline", type=order_type)["id"]
        api.act(iid, "assign", sup, unit_code="water")
        _to_verified(api, sup, water, iid)
        api.act(iid, "callback", sup, satisfaction=result)
    api.item(sup, source="audit")
    body = api.get("/reports/period", params={**MARCH, "group": "type"}, expect=200).json()
    got = {g["key"]: (g["label"], g["satisfaction_rate"], g["redo"]) for g in body["groups"]}
    assert got == {
        "help": ("求助", 1.0, 0),
        "complaint": ("投诉", 0.0, 1),
        "suggestion": ("建议", None, 0),
        None: ("（无工单类型）", None, 0),
    }
    assert (body["totals"]["satisfaction_rate"], body["totals"]["redo"]) == (0.5, 1)
    only = api.get("/reports/period", params={**MARCH, "type": "help"}, expect=200).json()
    assert only["totals"]["new"] == 1


def test_the_period_counts_the_callbacks_made_in_it_and_a_past_month_stays_as_it_was(api):
    """满意率 and redo of a month are its callbacks': a caller dissatisfied in February
    and satisfied after the redo in March is February's redo and March's satisfaction."""
    api.unit("water", "市水务集团")
    sup, water = api.key("supervisor"), api.key("unit", "water")
    api.set_clock(T1)
    iid = api.item(sup, source="hotline", type="help")["id"]
    api.act(iid, "assign", sup, unit_code="water")
    _to_verified(api, sup, water, iid)
    api.act(iid, "callback", sup, satisfaction="dissatisfied")
    february = {"from": "2026-02-01", "to": "2026-02-28"}
    before = api.get("/reports/period", params=february, expect=200).json()["totals"]
    assert (before["satisfaction_rate"], before["redo"]) == (0.0, 1)

    api.set_clock(T2)
    api.evidence(iid, water, content=b"second report")
    api.act(iid, "submit", water, comment="已重办")
    api.act(iid, "verify", sup)
    api.act(iid, "callback", sup, satisfaction="satisfied")
    march = api.get("/reports/period", params=MARCH, expect=200).json()["totals"]
    assert (march["satisfaction_rate"], march["redo"]) == (1.0, 0)
    after = api.get("/reports/period", params=february, expect=200).json()["totals"]
    assert after == before
    both = api.get("/reports/period", params={"from": "2026-02-01", "to": "2026-03-31"}).json()
    assert (both["totals"]["satisfaction_rate"], both["totals"]["redo"]) == (0.5, 1)


@pytest.mark.parametrize("group", ["unit", "source", "type"])
def test_the_period_report_reads_the_covering_index_on_sqlite(api, month, group):
    """The report's grouped query of items is a range of ix_item_period, every column it
    needs in the index: on SQLite not a walk of another index with a table read per item
    (PostgreSQL picks by size and visibility; bench/period_report.py measures it); the
    items reopened since the period's start, which it leaves out, and its query of the
    period's callbacks read their partial indexes."""
    if api.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL's depends on the table's size")
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "history_entry" in statement:
            statements.append((statement, parameters))

    event.listen(api.engine, "before_cursor_execute", capture)
    try:
        api.get("/reports/period", params={**MARCH, "group": group}, expect=200)
    finally:
        event.remove(api.engine, "before_cursor_execute", capture)
    [items] = [got for got in statements if "NOT IN" in got[0]]
    [reopened] = [got for got in statements if "LEFT OUTER JOIN history_entry" in got[0]]
    [callbacks] = [got for got in statements if "'callback'" in got[0]]
    with api.engine.connect() as conn:

        def plan(statement, parameters) -> str:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return " | ".join(row[3] for row in rows)

        assert "COVERING INDEX ix_item_period" in plan(*items), plan(*items)
        # the items reopened since the start: a range of the partial index of reopens
        assert "history_entry USING INDEX ix_history_reopen" in plan(*items)
        # and their rows by id, each with its entries by (item_id, seq)
        assert "item USING INTEGER PRIMARY KEY" in plan(*reopened), plan(*reopened)
        assert "history_entry USING INDEX ix_history_reopen" in plan(*reopened)
        # the period's callbacks: a range of the partial index of callbacks alone
        assert "history_entry USING INDEX ix_history_callback" in plan(*callbacks)


def test_a_limited_circular_keeps_the_highest_levels_first(api, month):
    """The docx lists at most ``LISTED_ITEMS``: the highest level first, then the oldest
    due date, whatever the levels below hold."""
    from app.auth.models import Role
    from app.auth.service import Caller
    from app.db import unit_of_work
    from app.ledger.period import circular

    admin = Caller(key_id=None, name="admin", role=Role.admin)
    with unit_of_work(write=False, engine=api.engine) as session:
        full = circular(session, admin, min_level=2)
        one = circular(session, admin, min_level=2, limit=1)
        empty = circular(session, admin, min_level=2, limit=0)
    listed = [i for u in full["data"] for i in u["items"]]
    first = min(listed, key=lambda i: (-i["level"], i["due_date"], i["id"]))
    assert first["id"] == month["ids"]["a"] and (full["total"], full["truncated"]) == (2, False)
    assert [i for u in one["data"] for i in u["items"]] == [first]
    assert (one["total"], one["truncated"]) == (2, True)
    assert (empty["data"], empty["total"], empty["truncated"]) == ([], 2, True)


JAN_OPEN, JAN_CLOSE, FEB_REOPEN, MAR_CLOSE = (
    "2027-01-11T02:00:00Z",
    "2027-01-20T02:00:00Z",
    "2027-02-10T02:00:00Z",
    "2027-03-10T02:00:00Z",
)
JANUARY = {"from": "2027-01-01", "to": "2027-01-31"}
FEBRUARY = {"from": "2027-02-01", "to": "2027-02-28"}
MARCH_2027 = {"from": "2027-03-01", "to": "2027-03-31"}
FIRST_QUARTER = {"from": "2027-01-01", "to": "2027-03-31"}
LOOK_BACK = {"comment": "回头看发现反弹", "due_date": "2027-02-26"}


def _counts(body: dict) -> dict:
    keys = ("new", "closed", "rectified", "open_at_end", "overdue_at_end")
    return {k: body[k] for k in (*keys, "cumulative_rectified", "on_time_rate")}


@pytest.fixture
def january(api):
    """In January 2027: R (audit, 青山县教育局) closed as rectified on time, W (inspection,
    court) withdrawn, H (a hotline order of the court's) closed by a satisfied callback,
    K (audit, court) closed and never reopened, O (audit, court) open and overdue at the
    month's end."""
    api.unit("xian", "青山县")
    api.unit("xian-edu", "青山县教育局", parent="xian")
    api.unit("court", "市中级人民法院")
    sup, court, xian = api.key("supervisor"), api.key("unit", "court"), api.key("unit", "xian")
    api.set_clock(JAN_OPEN)
    due = "2027-01-29"
    r = _assigned(api, sup, "audit", "xian-edu", due)
    w = _assigned(api, sup, "inspection", "court", due)
    h = api.item(sup, source="hotline", type="help")["id"]
    api.act(h, "assign", sup, unit_code="court", due_date=due)
    k = _assigned(api, sup, "audit", "court", due)
    o = _assigned(api, sup, "audit", "court", "2027-01-15")
    api.set_clock(JAN_CLOSE)
    _to_verified(api, sup, xian, r)
    api.act(r, "close", sup)
    api.act(w, "withdraw", sup, comment="重复立项")
    _to_verified(api, sup, court, h)
    api.act(h, "callback", sup, satisfaction="satisfied")
    _to_verified(api, sup, court, k)
    api.act(k, "close", sup)
    return {"sup": sup, "court": court, "xian": xian, "r": r, "w": w, "h": h, "k": k, "o": o}


def _views(api, january, params: dict) -> dict:
    """Every way of reading the period: each grouping, a unit key's, the filters, and
    the docx's headline paragraph and table."""
    got = {}
    for group in ("source", "unit", "type"):
        got[group] = api.get("/reports/period", params={**params, "group": group}).json()
    for who in ("xian", "court"):
        got[who] = api.get(
            "/reports/period", params={**params, "group": "unit"}, token=january[who]
        ).json()
    for source in ("audit", "inspection", "hotline"):
        got[source] = api.get("/reports/period", params={**params, "source": source}).json()
    got["help"] = api.get("/reports/period", params={**params, "type": "help"}).json()
    r = api.get("/reports/period", params={**params, "format": "docx"}, expect=200)
    doc = Document(io.BytesIO(r.content))
    # the headline (the escalated items below it are dated today's, by design)
    got["docx"] = [p.text for p in doc.paragraphs if p.text.startswith("本期新增")] + [
        [c.text for c in row.cells] for row in doc.tables[0].rows
    ]
    r = api.get("/reports/period", params={**params, "format": "xlsx"}, expect=200)
    ws = load_workbook(io.BytesIO(r.content))["月度调度"]
    got["xlsx"] = [list(row) for row in ws.iter_rows(min_row=3, values_only=True)]
    return got


def test_a_past_months_figures_stay_as_they_were_when_items_are_reopened_later(api, january):
    """January's report counts R, W and H closed in January; reopening them in February
    (回头看) changes nothing in it, however it is read. February's has them open at its
    end, and overdue (their new due date is before its end)."""
    before = _views(api, january, JANUARY)
    assert _counts(before["source"]["totals"]) == {
        "new": 5,
        "closed": 4,
        "rectified": 3,
        "open_at_end": 1,
        "overdue_at_end": 1,
        "cumulative_rectified": 3,
        "on_time_rate": 1.0,
    }
    api.set_clock(FEB_REOPEN)
    for name in ("r", "w", "h"):
        api.act(january[name], "reopen", january["sup"], **LOOK_BACK)
    assert _views(api, january, JANUARY) == before
    february = api.get("/reports/period", params=FEBRUARY).json()["totals"]
    assert _counts(february) == {
        "new": 0,
        "closed": 0,
        "rectified": 0,
        "open_at_end": 4,
        "overdue_at_end": 4,
        "cumulative_rectified": 1,
        "on_time_rate": None,
    }
    by_unit = api.get("/reports/period", params={**FEBRUARY, "group": "unit"}).json()
    xian = next(g for g in by_unit["groups"] if g["key"] == "xian")
    assert (xian["open_at_end"], xian["cumulative_rectified"]) == (1, 0)
    # the reopen records the closure's resolution and on-time verdict it clears
    entry = api.history(january["r"])[-1]
    assert entry["action"] == "reopen"
    assert (entry["data"]["previous_resolution"], entry["data"]["previous_on_time"]) == (
        "rectified",
        True,
    )


def test_an_item_overdue_at_a_months_end_stays_so_in_it_when_reopened_later(api, january):
    """The audit's repro: O, due January 15 and open at January's end, closed in
    February, reopened in March with a due date in April. January's report counted it
    against its new date (``overdue_at_end`` 1 -> 0); it takes the date in force then."""
    sup, court, o = january["sup"], january["court"], january["o"]
    before = api.get("/reports/period", params=JANUARY).json()["totals"]
    assert before["overdue_at_end"] == 1
    api.set_clock(FEB_REOPEN)
    _to_verified(api, sup, court, o)
    api.act(o, "close", sup)
    api.set_clock(MAR_CLOSE)
    api.act(o, "reopen", sup, comment="回头看发现反弹", due_date="2027-04-30")
    assert api.get("/reports/period", params=JANUARY).json()["totals"] == before
    march = api.get("/reports/period", params=MARCH_2027).json()["totals"]
    assert (march["open_at_end"], march["overdue_at_end"]) == (1, 0)  # due in April


def test_an_item_closed_reopened_and_closed_again_counts_each_closure_in_its_month(api, january):
    """R, closed in January, reopened in February, closed again in March (late: its new
    due date was February 26): January's and March's closures, February open at its end,
    and the quarter counts it once."""
    sup, xian, r = january["sup"], january["xian"], january["r"]
    api.set_clock(FEB_REOPEN)
    api.act(r, "reopen", sup, **LOOK_BACK)
    api.set_clock(MAR_CLOSE)
    _to_verified_again(api, sup, xian, r)
    api.act(r, "close", sup)

    def xian_figures(params: dict) -> dict:
        body = api.get("/reports/period", params={**params, "group": "unit"}, token=xian).json()
        [group] = body["groups"]
        assert _counts(group) == _counts(body["totals"])
        return _counts(group)

    assert xian_figures(JANUARY) == {
        "new": 1,
        "closed": 1,
        "rectified": 1,
        "open_at_end": 0,
        "overdue_at_end": 0,
        "cumulative_rectified": 1,
        "on_time_rate": 1.0,
    }
    assert xian_figures(FEBRUARY) == {
        "new": 0,
        "closed": 0,
        "rectified": 0,
        "open_at_end": 1,
        "overdue_at_end": 1,
        "cumulative_rectified": 0,
        "on_time_rate": None,
    }
    assert xian_figures(MARCH_2027) == {
        "new": 0,
        "closed": 1,
        "rectified": 1,
        "open_at_end": 0,
        "overdue_at_end": 0,
        "cumulative_rectified": 1,
        "on_time_rate": 0.0,
    }
    # once per figure; its on-time verdict the latest closure's of the period
    assert xian_figures(FIRST_QUARTER) == {
        "new": 1,
        "closed": 1,
        "rectified": 1,
        "open_at_end": 0,
        "overdue_at_end": 0,
        "cumulative_rectified": 1,
        "on_time_rate": 0.0,
    }
    totals = api.get("/reports/period", params=FIRST_QUARTER).json()["totals"]
    assert (totals["closed"], totals["rectified"], totals["cumulative_rectified"]) == (4, 3, 3)


def test_an_item_reopened_and_closed_again_within_the_month_counts_once(api, january):
    """A withdrawn item reopened and rectified in the same month: closed once, rectified
    once (its closure in force at the end)."""
    sup, court, w = january["sup"], january["court"], january["w"]
    api.set_clock("2027-01-21T02:00:00Z")
    api.act(w, "reopen", sup, **LOOK_BACK)
    _to_verified_again(api, sup, court, w)
    api.act(w, "close", sup)
    totals = api.get("/reports/period", params={**JANUARY, "source": "inspection"}).json()
    assert _counts(totals["totals"]) == {
        "new": 1,
        "closed": 1,
        "rectified": 1,
        "open_at_end": 0,
        "overdue_at_end": 0,
        "cumulative_rectified": 1,
        "on_time_rate": 1.0,
    }


def _to_verified_again(api, sup, unit_key, item_id):
    """A reopened item back to verified: new evidence, a closure request, acceptance."""
    api.evidence(item_id, unit_key, content=b"second report")
    api.act(item_id, "submit", unit_key, comment="已再次整改")
    api.act(item_id, "verify", sup)


def test_every_way_out_of_a_final_state_is_a_reopen(api):
    """The period report finds the items whose closures were undone by their ``reopen``
    entries (``ix_history_reopen``): no workflow leaves a final state otherwise."""
    from app.workflow.registry import registry

    assert registry.workflows
    for wf in registry.workflows.values():
        for action in wf.actions:
            if any(wf.state(s).final for s in action.from_):
                assert action.name == "reopen", (wf.name, wf.version, action.name)


def test_a_closure_undone_by_a_reopen_that_recorded_nothing_keeps_its_resolution(api, january):
    """Reopens written before they recorded the closure they clear: the closure counts
    with the resolution its action gives (close and a settled callback: rectified;
    withdraw: withdrawn) and no on-time verdict (out of the rate's base)."""
    from sqlalchemy import update

    from app.db import unit_of_work
    from app.items.models import HistoryEntry

    api.set_clock(FEB_REOPEN)
    for name in ("r", "w", "h"):
        api.act(january[name], "reopen", january["sup"], **LOOK_BACK)
    with unit_of_work(engine=api.engine) as session:
        session.execute(
            update(HistoryEntry)
            .where(HistoryEntry.action == "reopen")
            .values(data={"due_date": LOOK_BACK["due_date"]})
        )
    totals = api.get("/reports/period", params=JANUARY).json()["totals"]
    assert _counts(totals) == {
        "new": 5,
        "closed": 4,
        "rectified": 3,
        "open_at_end": 1,
        "overdue_at_end": 1,
        "cumulative_rectified": 3,
        "on_time_rate": 1.0,  # K's alone
    }
    xian = api.get("/reports/period", params=JANUARY, token=january["xian"]).json()["totals"]
    assert (xian["closed"], xian["rectified"], xian["on_time_rate"]) == (1, 1, None)
    hotline = api.get("/reports/period", params={**JANUARY, "source": "hotline"}).json()
    assert (hotline["totals"]["rectified"], hotline["totals"]["cumulative_rectified"]) == (1, 1)
