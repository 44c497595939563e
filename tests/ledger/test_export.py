"""The ledger file: columns, labels, real dates, local times, filters and scope."""

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from app.ledger import export
from tests.ledger.conftest import CLOCK, sheet_rows

HEADER = [
    "编号",
    "标题",
    "描述",
    "来源",
    "类别",
    "严重程度",
    "责任单位",
    "整改时限",
    "专项",
    "外部编号",
    "状态",
    "亮灯",
    "督办级别",
    "创建时间",
    "销号时间",
    "配合单位",
    "责任人",
    "责任领导",
    "整改措施",
    "整改进展",
    "最高督办级别",
    "是否逾期",
    "按期整改",
    "工单类型",
    "满意度",
]


@pytest.fixture
def ledger(api):
    api.set_clock(CLOCK)
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("court-1", "第一审判庭", parent="court")
    api.unit("audit", "市审计局", parent="city")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    a = api.item(
        sup, title='=HYPERLINK("http://x")', source="hotline", severity="high", tags=["营商环境"]
    )
    api.act(a["id"], "assign", sup, unit_code="court-1", due_date="2026-03-31")
    b = api.item(sup, title="征地补偿款发放不及时", source="audit", campaign="上级审计反馈")
    api.act(b["id"], "assign", sup, unit_code="audit", due_date="2026-04-30")
    c = api.item(sup, title="干部选拔任用程序不规范", source="inspection", external_ref="007")
    api.act(c["id"], "withdraw", sup, comment="重复交办")
    return {
        "sup": sup,
        "court": court,
        "viewer": api.key("viewer"),
        "ids": [a["id"], b["id"], c["id"]],
    }


def test_xlsx_has_chinese_header_labels_date_cells_local_times_and_frozen_header(api, ledger):
    r = api.get("/items/export", token=ledger["viewer"], expect=200)
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and ".xlsx" in disposition
    assert "filename*=UTF-8''%E5%8F%B0%E8%B4%A6-20260302-1000.xlsx" in disposition

    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == HEADER
    assert ws[1][0].font.b is True
    assert ws.column_dimensions["B"].width >= 40
    first, second, third = ws[2], ws[3], ws[4]
    assert first[1].value == '=HYPERLINK("http://x")' and first[1].data_type == "s"
    assert [c.value for c in first[3:7]] == ["12345热线", None, "高", "第一审判庭"]
    assert first[7].value == datetime(2026, 3, 31) and first[7].number_format == "yyyy-mm-dd"
    assert [c.value for c in first[10:13]] == ["已派单", "黄灯", 0]
    assert [c.value for c in first[15:20]] == [None] * 5  # no co-units, people, measures
    assert [c.value for c in first[23:25]] == ["投诉", None]
    assert first[13].value == datetime(2026, 3, 2, 10, 0) and first[13].is_date
    assert first[14].value is None
    assert [c.value for c in first[20:23]] == [0, "否", None]  # the honest record
    assert second[8].value == "上级审计反馈" and second[6].value == "市审计局"
    assert [c.value for c in third[9:12]] == ["007", "已销号", "无"]
    assert third[14].value == datetime(2026, 3, 2, 10, 0)


def test_csv_is_utf8_with_bom_and_iso_dates(api, ledger):
    r = api.get("/items/export", params={"format": "csv"}, expect=200)
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert rows[1][7] == "2026-03-31" and rows[1][13] == "2026-03-02 10:00:00"
    assert rows[3][14] == "2026-03-02 10:00:00"


FILTERS = [
    ({}, [0, 1, 2]),
    ({"state": "assigned"}, [0, 1]),
    ({"state": "assigned,closed"}, [0, 1, 2]),
    ({"unit": "court"}, [0]),
    ({"source": "audit"}, [1]),
    ({"campaign": "上级审计反馈"}, [1]),
    ({"q": "征地"}, [1]),
    ({"due_before": "2026-04-01"}, [0]),
    ({"due_after": "2026-04-01"}, [1]),
    ({"light": "yellow"}, [0]),  # the hotline's 1-workday sign-off: its reminder is today
    ({"light": "green"}, [1]),
    ({"tag": "营商环境"}, [0]),
    ({"external_ref": "007"}, [2]),
    ({"was_overdue": "true"}, []),
    ({"was_overdue": "false"}, [0, 1, 2]),
    ({"overdue": "true"}, []),
    ({"review_pending": "false"}, [0, 1, 2]),
    ({"unit": "no-such-unit"}, []),
]


def test_every_item_filter_applies(api, ledger):
    numbers = [i["number"] for i in api.get("/items", params={"limit": 10}).json()["data"][::-1]]
    for params, expected in FILTERS:
        rows = sheet_rows(api.get("/items/export", params=params, expect=200).content)
        assert [r[0] for r in rows[1:]] == [numbers[i] for i in expected], params


def test_unit_keys_export_only_their_subtree(api, ledger):
    rows = sheet_rows(api.get("/items/export", token=ledger["court"], expect=200).content)
    assert [r[6] for r in rows[1:]] == ["第一审判庭"]


def test_export_is_not_taken_for_an_item_id_and_bad_parameters_are_400(api, ledger):
    assert api.get("/items/export", token=None).status_code == 401
    assert api.get("/items/export", params={"format": "pdf"}).status_code == 400
    assert api.get("/items/export", params={"due_before": "soon"}).status_code == 400
    for name in ("q", "state", "unit", "campaign"):
        r = api.get("/items/export", params={"format": "csv", name: "a\x00b"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == name
    assert api.get("/reports/summary", params={"campaign": "\x00"}).status_code == 400
    assert api.get(f"/items/{ledger['ids'][0]}", expect=200).json()["id"] == ledger["ids"][0]
    r = api.get("/items/export", params={"format": "csv", "staet": "closed"})
    assert r.status_code == 400 and "'staet'" in r.json()["detail"]


def test_the_honest_record_columns(api, ledger):
    sup, iid = ledger["sup"], ledger["ids"][1]
    audit = api.key("unit", "audit")
    api.act(iid, "accept", audit)
    api.set_clock("2026-05-01T02:00:00Z")  # the day after its due date (04-30)
    api.post("/admin/scheduler/tick", expect=200)
    api.evidence(iid, audit)
    api.act(iid, "submit", audit, comment="已整改")
    api.act(iid, "verify", sup)
    api.act(iid, "close", sup)
    rows = sheet_rows(api.get("/items/export", params={"state": "closed"}, expect=200).content)
    padded = [(r + [None] * 25)[20:23] for r in rows[1:]]  # trailing empty cells are not read
    assert padded == [[1, "是", "否"], [0, "否", None]]


def test_export_reads_in_batches_beyond_one_batch(api, ledger, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 2)
    for fmt in ("xlsx", "csv"):
        r = api.get("/items/export", params={"format": fmt}, expect=200)
        if fmt == "xlsx":
            assert len(sheet_rows(r.content)) == 4
        else:
            assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 4


def test_empty_ledger_is_just_the_header(api):
    rows = sheet_rows(api.get("/items/export", expect=200).content)
    assert rows == [HEADER]
