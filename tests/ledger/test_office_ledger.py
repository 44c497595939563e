"""Ledgers the way offices keep them: merged title rows, their own headers, short unit
names, date phrases, measures as lines and as rows; reconciliation by 外部编号."""

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from tests.factories import assert_problem
from tests.ledger.conftest import upload, xlsx_bytes

pytestmark = pytest.mark.db

OFFICE_HEADER = [
    "序号",
    "存在问题",
    "整改措施",
    "牵头单位",
    "配合单位",
    "责任人",
    "整改时限",
    "外部编号",
]


def office_workbook(rows: list[list]) -> bytes:
    """Two merged title rows, a note row, the office header, data, a 合计 footer."""
    wb = Workbook()
    ws = wb.active
    ws.append(["2026年市委巡察反馈问题整改台账"])
    ws.merge_cells("A1:H1")
    ws.append(["填报单位：市纪委监委", None, None, None, None, "填报时间：2026年3月2日"])
    ws.merge_cells("A2:E2")
    ws.append(OFFICE_HEADER)
    for n, row in enumerate(rows, start=1):
        ws.append([n, *row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


ROWS = [
    [
        "老旧小区改造项目推进缓慢，群众反映强烈，部分项目未按期开工",
        "1.建立台账\n2、逐项销号\n（3）完善长效机制",
        "市住建局",
        "市教育局、court",
        "张三",
        "2026年12月31日前",
        "XC-2026-001",
    ],
    [
        "校外培训机构监管不到位",
        "开展专项检查",
        "市教育局",
        None,
        "李四",
        "2026年6月底前",
        "XC-2026-002",
    ],
    ["审判执行案款发放不及时", None, "court", None, None, "2026/9/30", "XC-2026-003"],
    ["机关作风建设需持续加强", "1. 坚持每月督查", "住建局", None, None, "长期坚持", "XC-2026-004"],
    ["窗口服务态度生硬", None, "市中级人民法院", None, None, "2026-07", "XC-2026-005"],
]


def _items(api) -> dict[str, dict]:
    data = api.get("/items", params={"limit": 500}, expect=200).json()["data"]
    return {i["external_ref"]: i for i in data}


def test_an_office_ledger_imports_with_its_own_headers_aliases_and_date_phrases(api, office):
    r = upload(api, office_workbook(ROWS), token=office, source="inspection")
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 5 and r.json()["assigned"] == 5
    got = _items(api)
    assert {ref: (i["unit_code"], i["due_date"]) for ref, i in got.items()} == {
        "XC-2026-001": ("zjj", "2026-12-31"),
        "XC-2026-002": ("jyj", "2026-06-30"),
        "XC-2026-003": ("court", "2026-09-30"),
        "XC-2026-004": ("zjj", got["XC-2026-004"]["due_date"]),  # 长期坚持: the SLA's date
        "XC-2026-005": ("court", "2026-07-31"),
    }
    first = got["XC-2026-001"]
    assert first["title"] == ROWS[0][0][:40] and first["description"] == ROWS[0][0]
    assert first["source"] == "inspection" and first["state"] == "assigned"
    assert got["XC-2026-004"]["due_date"] is not None


def test_row_errors_are_chinese_by_default_and_english_with_lang_en(api, office):
    rows = [
        ["问题一", None, "市住建委", None, None, "2026年12月31日", "R-1"],
        ["问题二", None, "jyj", None, None, "年底前", "R-2"],
    ]
    body = assert_problem(upload(api, office_workbook(rows), source="audit"), 422)
    messages = {(e["row"], e["field"]): e["message"] for e in body["errors"]}
    assert messages[(4, "unit")] == "责任单位：没有代码、名称或简称为“市住建委”的单位"
    assert messages[(5, "due_date")].startswith("整改时限：“年底前”不是日期")
    assert "行有错误" in body["detail"]
    english = assert_problem(upload(api, office_workbook(rows), source="audit", lang="en"), 422)
    messages = {(e["row"], e["field"]): e["message"] for e in english["errors"]}
    assert messages[(4, "unit")] == "unit: no unit has the code, exact name or alias '市住建委'"
    assert messages[(5, "due_date")].startswith("due_date: '年底前' is not a date")
    assert _items(api) == {}


def test_a_ledger_without_a_source_column_needs_the_source_parameter(api, office):
    body = assert_problem(upload(api, office_workbook(ROWS[:1])), 422)
    assert "来源" in body["detail"] and "source" in body["detail"]


def test_a_used_external_ref_is_a_row_error_naming_the_existing_item(api, office):
    existing = api.item(office, external_ref="XC-2026-002")
    r = upload(api, office_workbook(ROWS), source="inspection")
    body = assert_problem(r, 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(5, "external_ref")]
    assert existing["number"] in body["errors"][0]["message"]
    assert list(_items(api)) == ["XC-2026-002"]  # nothing else was created


def test_a_bad_row_leaves_nothing_created(api, office):
    rows = [*ROWS, ["过期的时限", None, "court", None, None, "2025年12月31日", "XC-9"]]
    body = assert_problem(upload(api, office_workbook(rows), source="inspection"), 422)
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(9, "due_date")}
    assert _items(api) == {}
    history_free = api.get("/events", expect=200).json()["data"]
    assert [e for e in history_free if e["type"] == "item.created"] == []


def test_upsert_updates_descriptive_fields_and_a_second_run_changes_nothing(api, office):
    upload(api, office_workbook(ROWS), source="inspection").raise_for_status()
    before = _items(api)
    changed = [list(r) for r in ROWS]
    changed[1][0] = "校外培训机构监管不到位，存在无证办学"
    changed[2][2] = None  # 牵头单位 left empty: unchanged
    changed[2][5] = None
    content = office_workbook(changed)
    r = upload(api, content, mode="upsert", source="inspection")
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 4, "errors": [], "assigned": 0}
    after = _items(api)
    assert after["XC-2026-002"]["description"] == changed[1][0]
    assert after["XC-2026-002"]["version"] == before["XC-2026-002"]["version"] + 1
    assert api.history(after["XC-2026-002"]["id"])[-1]["action"] == "edit"
    again = upload(api, content, mode="upsert", source="inspection").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)


def test_upsert_refuses_another_unit_or_deadline_for_an_existing_item(api, office):
    upload(api, office_workbook(ROWS), source="inspection").raise_for_status()
    changed = [list(r) for r in ROWS]
    changed[0][2], changed[0][3] = "市教育局", None
    changed[1][5] = "2026-08-31"
    body = assert_problem(
        upload(api, office_workbook(changed), mode="upsert", source="inspection"), 422
    )
    fields = {(e["row"], e["field"]) for e in body["errors"]}
    assert fields == {(4, "unit"), (5, "due_date")}
    number = _items(api)["XC-2026-001"]["number"]
    assert number in next(e["message"] for e in body["errors"] if e["row"] == 4)


def test_an_export_imports_back_with_upsert_creating_and_updating_nothing(api, office):
    upload(api, office_workbook(ROWS), source="inspection").raise_for_status()
    api.item(office, title="未交办的问题", source="hotline", external_ref="12345-1")
    api.item(office, title="没有外部编号的问题", source="audit")
    for fmt in ("xlsx", "csv"):
        exported = api.get("/items/export", params={"format": fmt}, expect=200).content
        r = upload(api, exported, f"台账.{fmt}", mode="upsert")
        assert r.status_code == 201, r.text
        body = r.json()
        # the item without an 外部编号 is matched by its 编号
        assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 7), fmt


def test_rows_sharing_an_external_ref_are_one_item(api, office):
    rows = [
        ["问题甲", "措施一", "court", None, None, "2026-10-31", "M-1"],
        ["问题甲", "措施二", "court", None, None, "2026-10-31", "M-1"],
        ["问题乙", None, "jyj", None, None, datetime(2026, 11, 30), "M-2"],
    ]
    body = upload(api, office_workbook(rows), source="audit").json()
    assert body["created"] == 2
    assert sorted(_items(api)) == ["M-1", "M-2"]


def test_english_and_chinese_headers_still_work_with_alias_columns(api, office):
    content = xlsx_bytes(
        [
            ["问题标题", "问题描述", "问题来源", "主责单位", "完成时限"],
            ["标题A", "描述A", "审计", "市住建局", "2026.10.8"],
        ]
    )
    assert upload(api, content).status_code == 201
    (item,) = _items(api).values()
    assert (item["title"], item["description"], item["unit_code"], item["due_date"]) == (
        "标题A",
        "描述A",
        "zjj",
        "2026-10-08",
    )
