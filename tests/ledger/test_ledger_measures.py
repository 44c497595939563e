"""What office ledgers name besides the item: co-units (配合单位), 责任人, 责任领导 and
measures (整改措施, as lines and as rows) are stored on import, compared on upsert,
written on export, and an export imports back unchanged."""

import csv
import io

import pytest
from openpyxl import Workbook

from tests.factories import assert_problem
from tests.ledger.conftest import CLOCK, comparable, sheet_rows, upload

pytestmark = pytest.mark.db

LINES_HEADER = ["序号", "存在问题", "整改措施", "牵头单位", "配合单位", "责任人", "分管领导"]
LINES_HEADER += ["整改时限", "外部编号"]
LINES = [
    [
        "老旧小区改造项目推进缓慢，群众反映强烈",
        "1.建立台账\n2、逐项销号\n（3）完善长效机制",
        "市住建局",
        "市教育局、court",
        "张三",
        "王副市长",
        "2026年12月31日前",
        "XC-001",
    ],
    [
        "机关作风建设需持续加强",
        "1. 坚持每月督查",
        "住建局",
        None,
        "李四",
        None,
        "长期坚持",
        "XC-002",
    ],
    ["窗口服务态度生硬", None, "court", None, None, None, "2026-07", "XC-003"],
]
ROWS_HEADER = ["存在问题", "牵头单位", "配合单位", "整改时限", "整改措施", "措施类型", "措施时限"]
ROWS_HEADER += ["措施责任单位", "外部编号"]
MEASURE_ROWS = [
    ["审判执行案款发放不及时", "court", "市教育局", "2026-09-30", "清理积案", "限期整改",
     "2026年6月底前", "市教育局", "M-1"],
    ["审判执行案款发放不及时", "court", "市教育局", "2026-09-30", "当场退还", "立行立改",
     None, None, "M-1"],
    ["审判执行案款发放不及时", "court", "市教育局", "2026-09-30", "定期通报", "长期坚持",
     None, "court", "M-1"],
]  # fmt: skip


def workbook(header: list, rows: list[list], numbered: bool = False) -> bytes:
    """A merged title row, the header, the rows (numbered in a 序号 column if asked)."""
    wb = Workbook()
    ws = wb.active
    ws.append(["2026年市委巡察反馈问题整改台账"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for n, row in enumerate(rows, start=1):
        ws.append([n, *row] if numbered else row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def lines_ledger(rows=LINES) -> bytes:
    return workbook(LINES_HEADER, rows, numbered=True)


def rows_ledger(rows=MEASURE_ROWS) -> bytes:
    return workbook(ROWS_HEADER, rows)


def items(api) -> dict[str, dict]:
    data = api.get("/items", params={"limit": 500}, expect=200).json()["data"]
    return {i["external_ref"]: i for i in data}


def measures(api, item: dict) -> list[tuple]:
    data = api.get(f"/items/{item['id']}/measures", expect=200).json()["data"]
    return [(m["title"], m["kind"], m["due_date"], m["unit_code"]) for m in data]


def counts(response) -> tuple:
    assert response.status_code == 201, response.text
    body = response.json()
    return body["created"], body.get("updated"), body.get("unchanged")


def test_measure_lines_co_units_and_people_are_stored_with_the_item(api, office):
    assert counts(upload(api, lines_ledger(), source="inspection")) == (3, None, None)
    got = items(api)
    first = got["XC-001"]
    assert first["co_unit_codes"] == ["jyj", "court"]
    assert (first["responsible_person"], first["responsible_leader"]) == ("张三", "王副市长")
    assert measures(api, first) == [
        ("建立台账", "deadline", "2026-12-31", "zjj"),
        ("逐项销号", "deadline", "2026-12-31", "zjj"),
        ("完善长效机制", "deadline", "2026-12-31", "zjj"),
    ]
    assert first["measures_summary"]["total"] == 3 and first["measures_summary"]["open"] == 3
    assert measures(api, got["XC-002"]) == [("坚持每月督查", "long_term", None, "zjj")]
    assert measures(api, got["XC-003"]) == []
    assert got["XC-003"]["co_unit_codes"] == [] and got["XC-003"]["responsible_person"] is None
    # the same history as POST /items, assign and POST /items/{id}/measures, and it verifies
    actions = [h["action"] for h in api.history(first["id"])]
    assert actions == ["create", "assign", "measure_create", "measure_create", "measure_create"]
    assert api.history(first["id"])[0]["data"]["co_unit_codes"] == ["jyj", "court"]
    assert api.get(f"/items/{first['id']}/history/verify", expect=200).json()["ok"]
    assert api.get("/admin/history/verify", expect=200).json() == {
        "items": 3,
        "ok": True,
        "broken": [],
    }
    events = api.get("/events", params={"limit": 500}, expect=200).json()["data"]
    created = [e for e in events if e["type"] == "measure.created"]
    assert len(created) == 4  # each naming who imported it, as item.created does
    importer = next(e for e in events if e["type"] == "item.created")["data"]["actor"]
    assert importer["kind"] == "key" and all(e["data"]["actor"] == importer for e in created)
    # a co-unit sees the item it helps with (its index rows were written too)
    jyj = api.key("unit", "jyj")
    seen = api.get("/items", token=jyj, expect=200).json()["data"]
    assert [i["external_ref"] for i in seen] == ["XC-001"]


def test_measures_as_rows_carry_their_own_kind_deadline_and_unit(api, office):
    assert counts(upload(api, rows_ledger(), source="audit")) == (1, None, None)
    (item,) = items(api).values()
    assert item["co_unit_codes"] == ["jyj"] and item["due_date"] == "2026-09-30"
    assert measures(api, item) == [
        ("清理积案", "deadline", "2026-06-30", "jyj"),
        ("当场退还", "immediate", "2026-09-30", "court"),
        ("定期通报", "long_term", None, "court"),
    ]
    assert api.get("/admin/history/verify", expect=200).json()["ok"]


def test_a_measure_the_rules_refuse_is_a_chinese_row_error_and_nothing_is_created(api, office):
    rows = [list(r) for r in MEASURE_ROWS]
    rows[0][7] = "住建局"  # neither the lead unit nor a co-unit
    rows[1][6] = "2026-01-31"  # in the past
    body = assert_problem(upload(api, rows_ledger(rows), source="audit"), 422)
    assert {(e["row"], e["field"]) for e in body["errors"]} == {
        (3, "measure_unit"),
        (4, "measure_due"),
    }
    unit_error = next(e for e in body["errors"] if e["field"] == "measure_unit")
    assert unit_error["message"] == "措施责任单位：措施“清理积案”的责任单位须为牵头单位或配合单位"
    english = assert_problem(upload(api, rows_ledger(rows), source="audit", lang="en"), 422)
    assert any("lead unit or a co-unit" in e["message"] for e in english["errors"])
    lead_free = [["无责任单位的问题", None, None, None, "整改一项", None, None, None, "M-9"]]
    body = assert_problem(upload(api, rows_ledger(lead_free), source="audit"), 422)
    assert [e["field"] for e in body["errors"]] == ["measure_unit"]
    assert items(api) == {}


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [(0, "另一个问题", "description"), (1, "zjj", "unit"), (3, "2026-10-31", "due_date"),
     (2, "zjj", "co_units")],
)  # fmt: skip
def test_rows_of_one_item_that_disagree_are_an_error_not_a_silent_first_row(
    api, office, column, value, field
):
    """Rows sharing an 外部编号 are one item: a later row may leave an item cell empty,
    but a different value would be lost, so it is that row's error (and nothing is
    created, in create and upsert mode alike)."""
    rows = [list(r) for r in MEASURE_ROWS]
    rows[1][column] = None  # a continuation row may leave it empty (存在问题 too)
    assert counts(upload(api, rows_ledger(rows), source="audit")) == (1, None, None)
    rows = [list(r) for r in MEASURE_ROWS]
    for r in rows:
        r[8] = "M-2"
    rows[2][column] = value
    for mode in ("create", "upsert"):
        body = assert_problem(upload(api, rows_ledger(rows), source="audit", mode=mode), 422)
        assert [(e["row"], e["field"]) for e in body["errors"]] == [(5, field)], body
        assert "第 3 行" in body["errors"][0]["message"]
    assert list(items(api)) == ["M-1"]


def test_a_long_term_measure_with_a_date_is_a_row_error_as_in_the_api(api, office):
    rows = [list(r) for r in MEASURE_ROWS]
    rows[2][6] = "2026-11-30"  # 定期通报, 长期坚持
    body = assert_problem(upload(api, rows_ledger(rows), source="audit"), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(5, "measure_due")]
    assert "长期坚持" in body["errors"][0]["message"]
    item = {"title": "t", "source": "audit"}
    iid = api.post("/items", json=item, expect=201).json()["id"]
    api.act(iid, "assign", "admin", unit_code="court", due_date="2026-09-30")
    measure = {"title": "定期通报", "kind": "long_term", "due_date": "2026-11-30"}
    assert_problem(api.post(f"/items/{iid}/measures", json=measure), 422)


def test_measures_of_a_row_without_a_due_date_name_the_missing_due_date(api, office):
    """责任单位 without 整改时限 leaves the item unassigned, without a lead unit for its
    measures: the error names 整改时限, the missing cell, not the measures' unit."""
    row = ["审判执行案款发放不及时", "court", None, None, "清理积案", None, None, None, "M-5"]
    body = assert_problem(upload(api, rows_ledger([row]), source="audit"), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "due_date")]
    assert body["errors"][0]["message"].startswith("整改时限：")


def test_upsert_of_the_same_ledger_changes_nothing_and_notices_measures_and_people(api, office):
    upload(api, lines_ledger(), source="inspection").raise_for_status()
    upload(api, rows_ledger(), source="audit").raise_for_status()
    before = items(api)
    assert counts(upload(api, lines_ledger(), mode="upsert", source="inspection")) == (0, 0, 3)
    assert counts(upload(api, rows_ledger(), mode="upsert", source="audit")) == (0, 0, 1)
    assert {k: v["version"] for k, v in items(api).items()} == {
        k: v["version"] for k, v in before.items()
    }

    changed = [list(r) for r in MEASURE_ROWS]
    changed[0][6] = "2026-07-15"  # 清理积案's deadline moves
    assert counts(upload(api, rows_ledger(changed), mode="upsert", source="audit")) == (0, 1, 0)
    item = items(api)["M-1"]
    assert measures(api, item)[0] == ("清理积案", "deadline", "2026-07-15", "jyj")
    assert api.history(item["id"])[-1]["action"] == "measure_update"
    feed = api.get("/events", params={"type": "measure.updated", "subject": f"items/{item['id']}"})
    assert feed.json()["data"][-1]["data"]["actor"]["kind"] == "key"

    lines = [list(r) for r in LINES]
    lines[0][1] += "\n4. 开展回头看"  # a new measure
    lines[1][4] = "赵六"  # another 责任人
    lines[1][3] = "court"  # a co-unit added
    assert counts(upload(api, lines_ledger(lines), mode="upsert", source="inspection")) == (
        0,
        2,
        1,
    )
    got = items(api)
    assert [m[0] for m in measures(api, got["XC-001"])][-1] == "开展回头看"
    assert got["XC-001"]["measures_summary"]["total"] == 4
    assert (got["XC-002"]["responsible_person"], got["XC-002"]["co_unit_codes"]) == (
        "赵六",
        ["court"],
    )
    again = upload(api, lines_ledger(lines), mode="upsert", source="inspection")
    assert counts(again) == (0, 0, 3)
    assert api.get("/admin/history/verify", expect=200).json()["ok"]


def test_upsert_refuses_to_change_a_completed_measure(api, office):
    upload(api, rows_ledger(), source="audit").raise_for_status()
    item = items(api)["M-1"]
    court = api.key("unit", "court")
    first = api.get(f"/items/{item['id']}/measures", expect=200).json()["data"][0]
    done = {"comment": "已清理完毕"}
    api.post(f"/items/{item['id']}/measures/{first['id']}/complete", json=done, token=court)
    assert api.get(f"/items/{item['id']}/measures").json()["data"][0]["status"] == "done"
    changed = [list(r) for r in MEASURE_ROWS]
    changed[0][6] = "2026-07-15"
    body = assert_problem(upload(api, rows_ledger(changed), mode="upsert", source="audit"), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "measures")]
    assert "已完成" in body["errors"][0]["message"]


def _progress(api, item: dict, percent: int) -> None:
    first = api.get(f"/items/{item['id']}/measures", expect=200).json()["data"][0]
    report = {"comment": "已建立台账", "percent": percent}
    api.post(f"/items/{item['id']}/measures/{first['id']}/progress", json=report, expect=201)


def test_export_writes_co_units_people_measures_and_progress(api, office):
    upload(api, lines_ledger(), source="inspection").raise_for_status()
    _progress(api, items(api)["XC-001"], 50)
    rows = sheet_rows(api.get("/items/export", expect=200).content)
    header = rows[0]
    row = next(r for r in rows if r[header.index("外部编号")] == "XC-001")
    first = dict(zip(header, row, strict=True))
    assert first["配合单位"] == "市教育局、市中级人民法院"
    assert (first["责任人"], first["责任领导"]) == ("张三", "王副市长")
    assert first["整改措施"] == "1. 建立台账\n2. 逐项销号\n3. 完善长效机制"
    assert first["整改进展"] == "1. 已建立台账（50%）"
    assert header[header.index("销号时间") + 1 : header.index("最高督办级别")] == [
        "配合单位",
        "责任人",
        "责任领导",
        "整改措施",
        "整改进展",
    ]

    rows = sheet_rows(api.get("/items/export", params={"rows": "measures"}, expect=200).content)
    header = rows[0]
    assert header[-4:] == ["措施类型", "措施时限", "措施状态", "措施责任单位"]
    table = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [(r["外部编号"], r["整改措施"], r["措施类型"], r["措施状态"]) for r in table] == [
        ("XC-001", "建立台账", "限期整改", "未完成"),
        ("XC-001", "逐项销号", "限期整改", "未完成"),
        ("XC-001", "完善长效机制", "限期整改", "未完成"),
        ("XC-002", "坚持每月督查", "长期坚持", "未完成"),
        ("XC-003", None, None, None),  # no measures: still its one row
    ]
    assert table[0]["整改进展"] == "已建立台账（50%）" and table[1]["整改进展"] is None
    assert table[0]["措施责任单位"] == "市住房和城乡建设局"
    assert table[3]["措施时限"] is None
    assert str(table[0]["措施时限"])[:10] == "2026-12-31"
    body = assert_problem(api.get("/items/export", params={"rows": "x"}), 400)
    assert body["errors"][0]["field"] == "rows"


@pytest.mark.parametrize("per", ["items", "measures"])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_imports_back_with_its_measures(api, office, second_api, per, fmt):
    upload(api, lines_ledger(), source="inspection").raise_for_status()
    upload(api, rows_ledger(), source="audit").raise_for_status()
    _progress(api, items(api)["M-1"], 30)
    params = {"format": fmt, "rows": per}
    exported = api.get("/items/export", params=params, expect=200).content
    # into the same database, reconciling: nothing created, nothing updated
    assert counts(upload(api, exported, f"台账.{fmt}", mode="upsert")) == (0, 0, 4)
    # into an empty one: the same ledger comes out again, measures included
    for code, name in (
        ("zjj", "市住房和城乡建设局"),
        ("jyj", "市教育局"),
        ("court", "市中级人民法院"),
    ):
        second_api.unit(code, name)
    second_api.set_clock(CLOCK)
    assert counts(upload(second_api, exported, f"台账.{fmt}")) == (4, None, None)
    again = second_api.get("/items/export", params=params, expect=200).content
    assert comparable(_rows(again, fmt)) == comparable(_rows(exported, fmt))
    source, copy = items(api), items(second_api)
    for ref in source:
        expected = measures(api, source[ref])
        if per == "items":  # one row per item: the measures' kinds follow 整改时限
            expected = [m[0] for m in expected]
            assert [m[0] for m in measures(second_api, copy[ref])] == expected
        else:
            assert measures(second_api, copy[ref]) == expected
    assert second_api.get("/admin/history/verify", expect=200).json()["ok"]


TRICKY_TITLES = ["多行措施第一行\n第二行", "1. 编号开头的措施", "（1）带编号的措施", "两个  空格"]


@pytest.mark.parametrize("per", ["items", "measures"])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_titles_on_several_lines_or_starting_with_numbering_import_back_as_themselves(
    api, office, per, fmt
):
    """A ledger line holds one measure and an import takes leading numbering off: the
    export writes each title on one line (numbered where it starts with numbering), and
    the upsert matches measures on that line, so none comes back as a new measure."""
    upload(api, lines_ledger(LINES[:1]), source="inspection").raise_for_status()
    item = items(api)["XC-001"]
    for title in TRICKY_TITLES:
        api.post(f"/items/{item['id']}/measures", json={"title": title, "kind": "long_term"},
                 expect=201)  # fmt: skip
    before = measures(api, item)
    exported = api.get("/items/export", params={"format": fmt, "rows": per}, expect=200).content
    assert counts(upload(api, exported, f"台账.{fmt}", mode="upsert")) == (0, 0, 1)
    assert measures(api, item) == before


def _rows(content: bytes, fmt: str) -> list[list]:
    if fmt == "xlsx":
        return sheet_rows(content)
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_measures_land_on_their_items_across_write_chunks(api, office, monkeypatch):
    from app.ledger import bulk

    monkeypatch.setattr(bulk, "CHUNK", 2)
    assert counts(upload(api, lines_ledger(), source="inspection")) == (3, None, None)
    assert counts(upload(api, rows_ledger(), source="audit")) == (1, None, None)
    got = items(api)
    assert [len(measures(api, got[ref])) for ref in ("XC-001", "XC-002", "XC-003", "M-1")] == [
        3,
        1,
        0,
        3,
    ]
    assert api.get("/admin/history/verify", expect=200).json() == {
        "items": 4,
        "ok": True,
        "broken": [],
    }


CONTINUED_HEADER = ["外部编号", "标题", "牵头单位", "完成时限", "整改措施", "措施类型", "措施时限"]
CONTINUED = [
    ["REC-M3", "多措施问题3", "court", "2027-06-30", "措施一", "限期整改", "2027-03-31"],
    ["REC-M3", None, "court", "2027-06-30", "措施二", "长期坚持", None],
]


def _csv(header: list, rows: list[list]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *[["" if v is None else v for v in r] for r in rows]])
    return buf.getvalue().encode()


@pytest.mark.parametrize("mode", ["create", "upsert"])
def test_a_later_row_of_one_item_may_leave_its_title_empty(api, office, mode):
    """The audit's repro: rows sharing an 外部编号 are one item, and an empty cell in a
    later row agrees with the first row's, 标题 included."""
    r = upload(api, _csv(CONTINUED_HEADER, CONTINUED), "台账.csv", source="audit", mode=mode)
    assert counts(r)[0] == 1
    item = items(api)["REC-M3"]
    assert item["title"] == "多措施问题3"
    assert measures(api, item) == [
        ("措施一", "deadline", "2027-03-31", "court"),
        ("措施二", "long_term", None, "court"),
    ]


def test_merged_item_cells_are_the_first_rows_for_every_row_of_the_item(api, office):
    """An office ledger merges the item's cells over its measures' rows: only the first
    row holds 标题, 来源, 牵头单位 and 完成时限. The later rows take them (their
    measures the item's 完成时限 too); a row of another item still needs its own."""
    header = ["外部编号", "标题", "来源", "牵头单位", "完成时限", "整改措施", "措施类型"]
    rows = [
        ["REC-M4", "合并单元格的问题", "审计", "court", "2027-06-30", "措施一", "限期整改"],
        ["REC-M4", None, None, None, None, "措施二", None],
        ["REC-M4", None, None, None, None, "措施三", "长期坚持"],
        ["REC-M5", "另一个问题", "审计", None, None, None, None],
    ]
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    for column in range(2, 6):
        ws.merge_cells(start_row=2, start_column=column, end_row=4, end_column=column)
    buf = io.BytesIO()
    wb.save(buf)
    for mode in ("create", "upsert"):
        dry = upload(api, buf.getvalue(), mode=mode, dry_run="true")
        assert dry.status_code == 200 and dry.json()["would_create"] == 2, dry.text
    assert counts(upload(api, buf.getvalue())) == (2, None, None)
    item = items(api)["REC-M4"]
    assert (item["title"], item["source"], item["unit_code"]) == (
        "合并单元格的问题",
        "audit",
        "court",
    )
    assert measures(api, item) == [
        ("措施一", "deadline", "2027-06-30", "court"),
        ("措施二", "deadline", "2027-06-30", "court"),
        ("措施三", "long_term", None, "court"),
    ]
    # the same file upserted again changes nothing
    assert counts(upload(api, buf.getvalue(), mode="upsert")) == (0, 0, 2)


def test_the_first_row_of_an_item_still_needs_its_title_and_its_errors_are_its_own(api, office):
    """The item's required cells are required of its first row; a later row that leaves
    a bad first-row cell empty does not repeat that row's error."""
    rows = [list(r) for r in CONTINUED]
    rows[0][1], rows[1][1] = None, "多措施问题3"
    body = assert_problem(upload(api, _csv(CONTINUED_HEADER, rows), "a.csv", source="audit"), 422)
    assert [(e["row"], e["field"], e["message"]) for e in body["errors"]] == [
        (2, "title", "标题：必填")
    ]
    rows = [list(r) for r in CONTINUED]
    rows[0][2], rows[1][2] = "不存在的单位", None
    body = assert_problem(upload(api, _csv(CONTINUED_HEADER, rows), "a.csv", source="audit"), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "unit")]
    assert items(api) == {}


@pytest.mark.parametrize("per", ["items", "measures"])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_units_whose_name_would_not_read_back_as_them_are_exported_by_code(api, office, per, fmt):
    """Units may share a name (court2 is also 市中级人民法院), a name may be another unit's
    code (jyj2 is named "jyj") or hold a list separator: an import would refuse such a
    name, or read it as another unit or as two. The export writes those units' codes,
    every other unit's name, so the ledger still imports back unchanged."""
    api.unit("court2", "市中级人民法院")
    api.unit("jyj2", "jyj")
    api.unit("joint", "纪委、监委联合办")
    header = ["外部编号", "标题", "来源", "牵头单位", "配合单位", "完成时限", "整改措施"]
    header += ["措施责任单位"]
    rows = [
        ["DUP-1", "同名单位的问题", "审计", "court2", "court、jyj2、joint、jyj", "2027-06-30",
         "措施一", "court"],
        ["DUP-1", None, None, None, None, None, "措施二", "jyj2"],
        ["DUP-1", None, None, None, None, None, "措施三", "joint"],
        ["DUP-2", "唯一名称的问题", "审计", "court", None, "2027-06-30", None, None],
    ]  # fmt: skip
    assert counts(upload(api, _csv(header, rows), "a.csv")) == (2, None, None)
    params = {"format": fmt, "rows": per}
    exported = api.get("/items/export", params=params, expect=200).content
    table = _rows(exported, fmt)
    cells = [dict(zip(table[0], r, strict=True)) for r in table[1:]]
    first = next(r for r in cells if r["外部编号"] == "DUP-1")
    assert first["责任单位"] == "court2"
    assert first["配合单位"] == "court、jyj2、joint、市教育局"
    if per == "measures":
        assert [r["措施责任单位"] for r in cells if r["外部编号"] == "DUP-1"] == [
            "court",
            "jyj2",
            "纪委、监委联合办",  # one unit a cell: no list to split
        ]
    assert next(r for r in cells if r["外部编号"] == "DUP-2")["责任单位"] == "court"
    assert counts(upload(api, exported, f"台账.{fmt}", mode="upsert")) == (0, 0, 2)
