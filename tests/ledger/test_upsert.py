"""Upsert (``mode=upsert``) as API.md, "Ledger, second round", has it: one row may edit
an item and add or change its measures at once, and the item's history still
verifies; 责任单位 and 整改时限 may each be empty or equal to the item's; and an
export imports back unchanged, whether or not its items have an 外部编号."""

import csv
import io

import pytest

from tests.factories import assert_problem
from tests.ledger.conftest import CLOCK, upload

pytestmark = pytest.mark.db

HEADER = ["来源", "标题", "描述", "责任单位", "整改时限", "外部编号"]
MEASURE_HEADER = [*HEADER, "整改措施", "措施时限", "责任人"]


def csv_file(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return b"\xef\xbb\xbf" + buf.getvalue().encode()


def by_ref(api, ref: str) -> dict:
    data = api.get("/items", params={"limit": 500}, expect=200).json()["data"]
    return next(i for i in data if i["external_ref"] == ref)


def verify(api, item: dict) -> dict:
    return api.get(f"/items/{item['id']}/history/verify", expect=200).json()


def upsert(api, content: bytes, filename: str = "台账.csv", **params):
    r = upload(api, content, filename, mode="upsert", **params)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def chained(api, office):
    """CHAIN-B: imported assigned to court, then given two measures by an upsert."""
    upload(api, csv_file(HEADER, [["审计", "链B", "d", "court", "2027-01-20", "CHAIN-B"]]), "a.csv")
    row = ["审计", "链B", "d", None, None, "CHAIN-B", "措施一\n措施二", None, None]
    assert upsert(api, csv_file(MEASURE_HEADER, [row]))["updated"] == 1
    item = by_ref(api, "CHAIN-B")
    assert verify(api, item)["ok"] and item["measures_summary"]["total"] == 2
    return item


def test_the_audit_repro_an_edit_and_a_new_measure_in_one_row_keep_the_chain(api, chained):
    row = ["审计", "链B", "d", None, None, "CHAIN-B", "措施三", None, "某人"]
    assert upsert(api, csv_file(MEASURE_HEADER, [row]))["updated"] == 1
    assert verify(api, chained) == {"ok": True, "entries": 6, "broken_seq": None}
    item = by_ref(api, "CHAIN-B")
    assert item["responsible_person"] == "某人"
    assert item["measures_summary"]["total"] == 3  # the new measure is counted on the item
    assert item["version"] == chained["version"] + 2  # the edit, then the measure
    actions = [h["action"] for h in api.history(item["id"])][-2:]
    assert actions == ["edit", "measure_create"]


# (rows of one upsert, the history actions it appends): every mix of an edit, a new
# measure and a changed one (措施时限 of 措施一), alone and together, in one row or in
# two rows of the same 外部编号.
COMBINATIONS = {
    "edit only": ([[None, "某人"]], ["edit"]),
    "new measure only": ([["措施三", None]], ["measure_create"]),
    "changed measure only": ([["措施一", None, "2026-12-31"]], ["measure_update"]),
    "edit and new measure": ([["措施三", "某人"]], ["edit", "measure_create"]),
    "edit and changed measure": ([["措施一", "某人", "2026-12-31"]], ["edit", "measure_update"]),
    "edit, new and changed measure": (
        [["措施一", "某人", "2026-12-31"], ["措施三", None]],
        ["edit", "measure_create", "measure_update"],
    ),
    "edit, two new measures": ([["措施三\n措施四", "某人"]], ["edit", *["measure_create"] * 2]),
}


@pytest.mark.parametrize("case", COMBINATIONS)
def test_every_mix_of_edits_and_measures_in_one_upsert_keeps_the_chain(api, chained, case):
    rows, appended = COMBINATIONS[case]
    table = []
    # the rows of one item agree on its fields (a later row's other title is its error)
    title = "链B（改）" if any(person for _measures, person, *_due in rows) else "链B"
    for measures, person, *due in rows:
        table.append([
            "审计", title, "d", None, None, "CHAIN-B", measures, due[0] if due else None, person,
        ])  # fmt: skip
    assert upsert(api, csv_file(MEASURE_HEADER, table))["updated"] == 1
    check = verify(api, chained)
    assert check == {"ok": True, "entries": 4 + len(appended), "broken_seq": None}
    item = by_ref(api, "CHAIN-B")
    assert [h["action"] for h in api.history(item["id"])][4:] == appended
    assert item["version"] == chained["version"] + len(appended)
    listed = api.get(f"/items/{item['id']}/measures", expect=200).json()["data"]
    assert item["measures_summary"]["total"] == len(listed)
    assert api.get("/admin/history/verify", expect=200).json()["ok"]
    # the same file again changes nothing, and the chain still verifies
    assert upsert(api, csv_file(MEASURE_HEADER, table))["unchanged"] == 1
    assert verify(api, chained)["ok"]


def test_unit_and_deadline_may_each_be_empty_or_equal_to_the_items(api, office):
    upload(api, csv_file(HEADER, [["审计", "链B", "d", "court", "2027-01-20", "CHAIN-B"]]), "a.csv")
    rows = [
        ["审计", "链B", "d", "court", None, "CHAIN-B"],
        ["审计", "链B", "d", "市中级人民法院", "", "CHAIN-B"],
        ["审计", "链B", "d", None, "2027-01-20", "CHAIN-B"],
        ["审计", "链B", "d", None, "2027年1月20日", "CHAIN-B"],
        ["审计", "链B", "d", "court", "2027-01-20", "CHAIN-B"],
        ["审计", "链B", "d", None, None, "CHAIN-B"],
    ]
    for row in rows:
        body = upsert(api, csv_file(HEADER, [row]))
        assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 1), row
    changed = upsert(api, csv_file(HEADER, [["审计", "链B（改）", "d", "court", None, "CHAIN-B"]]))
    assert changed["updated"] == 1 and by_ref(api, "CHAIN-B")["title"] == "链B（改）"
    # a different value in either is still refused, the other one left empty
    for row, field in (
        (["审计", "链B", "d", "jyj", None, "CHAIN-B"], "unit"),
        (["审计", "链B", "d", None, "2027-01-21", "CHAIN-B"], "due_date"),
    ):
        body = assert_problem(upload(api, csv_file(HEADER, [row]), "a.csv", mode="upsert"), 422)
        assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, field)]


@pytest.mark.parametrize(
    "row", [["court", None], [None, "2027-01-20"]], ids=["only-unit", "only-due"]
)
def test_a_file_whose_rows_created_unassigned_items_imports_again_unchanged(api, office, row):
    """A row with only one of 责任单位 and 整改时限 creates the item unassigned: the same
    file upserted again is no change, not a row error against the empty unit."""
    line = ["审计", "单列", "d", *row, "ONLY-ONE"]
    assert upsert(api, csv_file(HEADER, [line]))["created"] == 1
    assert by_ref(api, "ONLY-ONE")["state"] == "found"
    again = upsert(api, csv_file(HEADER, [line]))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
    # an assigned item still refuses a different one
    api.act(by_ref(api, "ONLY-ONE")["id"], "assign", office, unit_code="jyj", due_date="2027-02-26")
    body = assert_problem(upload(api, csv_file(HEADER, [line]), "a.csv", mode="upsert"), 422)
    assert len(body["errors"]) == 1


def _ledger(api, office) -> None:
    """Items with and without an 外部编号, assigned and found, with measures."""
    rows = [
        ["巡视巡察", "有编号已交办", "d", "court", "2026-12-31", "REF-1", "措施一\n措施二"],
        ["巡视巡察", "无编号已交办", "d", "jyj", "2026-11-30", None, "措施甲\n措施乙"],
        ["巡视巡察", "无编号未交办", None, None, None, None, None],
    ]
    header = [*HEADER, "整改措施"]
    upload(api, csv_file(header, rows), "a.csv").raise_for_status()
    api.item(office, title="未交办的热线工单", source="hotline", external_ref="12345-9")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("per", ["items", "measures"])
def test_an_export_without_external_refs_imports_back_creating_nothing(api, office, fmt, per):
    _ledger(api, office)
    before = api.get("/items", params={"limit": 500}, expect=200).json()["data"]
    params = {"format": fmt, "source": "inspection", "rows": per}
    exported = api.get("/items/export", params=params, expect=200).content
    dry = upload(api, exported, f"台账.{fmt}", mode="upsert", dry_run="true")
    assert dry.status_code == 200, dry.text
    assert (dry.json()["would_create"], dry.json()["would_update"]) == (0, 0)
    body = upsert(api, exported, f"台账.{fmt}")
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 3)
    after = api.get("/items", params={"limit": 500}, expect=200).json()["data"]
    assert {i["id"]: i["version"] for i in after} == {i["id"]: i["version"] for i in before}


def test_a_row_naming_an_items_number_updates_that_item(api, office):
    _ledger(api, office)
    found = next(
        i
        for i in api.get("/items", params={"limit": 500}).json()["data"]
        if i["title"] == "无编号未交办"
    )
    content = csv_file(
        ["编号", "标题", "来源"], [[found["number"], "无编号未交办（改）", "巡视巡察"]]
    )
    body = upsert(api, content)
    assert (body["created"], body["updated"]) == (0, 1)
    assert api.get(f"/items/{found['id']}", expect=200).json()["title"] == "无编号未交办（改）"
    # named by its 外部编号 in one row and by its 编号 in another: one update
    ref_1 = by_ref(api, "REF-1")
    content = csv_file(
        ["编号", "标题", "来源", "外部编号", "整改措施"],
        [
            [None, "有编号已交办", "巡视巡察", "REF-1", "措施三"],
            [ref_1["number"], "有编号已交办", "巡视巡察", None, "措施三\n措施四"],
        ],
    )
    body = upsert(api, content)
    assert (body["created"], body["updated"]) == (0, 1)
    listed = api.get(f"/items/{ref_1['id']}/measures", expect=200).json()["data"]
    assert [m["title"] for m in listed] == ["措施一", "措施二", "措施三", "措施四"]
    assert verify(api, ref_1)["ok"]
    # without mode=upsert the 编号 column is ignored, as API.md says: a new item
    content = csv_file(["编号", "标题", "来源"], [[found["number"], "另一个问题", "巡视巡察"]])
    assert upload(api, content, "a.csv").json()["created"] == 1


def test_an_item_of_another_workflow_than_its_sources_exports_and_imports_back(
    api, office, second_api
):
    api.item(office, title="审计来源的热线工单", source="audit", workflow="hotline")
    api.item(office, title="普通审计问题", source="audit")
    exported = api.get("/items/export", params={"format": "csv"}, expect=200).content
    dry = upload(api, exported, "台账.csv", mode="upsert", dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["would_create"] == 0
    body = upsert(api, exported)
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 2)
    # into an empty database: dry run and import agree, and the order keeps its workflow
    second_api.set_clock(CLOCK)
    dry = upload(second_api, exported, "台账.csv", dry_run="true")
    assert dry.status_code == 200 and dry.json()["would_create"] == 2, dry.text
    r = upload(second_api, exported, "台账.csv")
    assert r.status_code == 201, r.text
    copied = {i["title"]: i for i in second_api.get("/items", expect=200).json()["data"]}
    assert copied["审计来源的热线工单"]["type"] == "complaint"
    assert copied["审计来源的热线工单"]["workflow"]["name"] == "hotline"
    assert copied["普通审计问题"]["type"] is None


def test_a_row_the_item_rules_refuse_is_a_row_error_in_dry_run_and_import_alike(
    api, office, monkeypatch
):
    """Whatever the item rules refuse (here an order type no workflow declares, which the
    cell reader is made to let through) is found while checking, so the dry run says
    what the import does, and the error names its row."""
    from app.ledger import rows as ledger_rows

    monkeypatch.setattr(ledger_rows, "read_type", lambda text: text)
    content = csv_file(
        [*HEADER, "工单类型"],
        [
            ["审计", "工单", "d", None, None, None, "mystery"],
            ["审计", "问题", "d", None, None, None, None],
        ],
    )
    for params in ({"dry_run": "true"}, {}, {"mode": "upsert"}):
        body = assert_problem(upload(api, content, "a.csv", **params), 422)
        assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "type")], params
        assert (
            body["errors"][0]["message"]
            == "工单类型：此类问题没有工单类型（“mystery”），请清空此列"
        )
    assert api.get("/items", expect=200).json()["data"] == []


def test_an_upsert_that_only_updates_needs_no_source_column(api, office):
    """来源 is not among the fields an upsert updates: a file of updates need not carry
    it. A row in it that would create an item is that row's error, naming 来源."""
    upload(api, csv_file(HEADER, [["审计", "链C", "d", "court", "2027-01-20", "CHAIN-C"]]), "a.csv")
    header = ["标题", "外部编号", "责任单位", "整改时限"]
    body = upsert(api, csv_file(header, [["链C（改）", "CHAIN-C", "court", "2027-01-20"]]))
    assert (body["created"], body["updated"]) == (0, 1)
    assert by_ref(api, "CHAIN-C")["title"] == "链C（改）"
    new = csv_file(header, [["链C", "CHAIN-C", None, None], ["新问题", "CHAIN-D", None, None]])
    refused = assert_problem(upload(api, new, "a.csv", mode="upsert"), 422)
    assert [(e["row"], e["field"]) for e in refused["errors"]] == [(3, "source")]
    assert "来源" in refused["errors"][0]["message"]
    plain = assert_problem(
        upload(api, csv_file(header, [["x", "CHAIN-E", None, None]]), "a.csv"), 422
    )
    assert "来源" in plain["detail"]  # a plain import creates every row: the column first


def _item(api, title: str) -> dict:
    data = api.get("/items", params={"limit": 500}, expect=200).json()["data"]
    return next(i for i in data if i["title"] == title)


@pytest.mark.parametrize("per", ["items", "measures"])
def test_an_external_ref_filled_in_on_an_exported_row_is_given_to_that_item(api, office, per):
    """A row names its item by 编号 whether or not it has an 外部编号: one filled in on an
    exported row is the item's new ref (an update, recorded in its history), not a
    second item with the same title."""
    _ledger(api, office)
    item = _item(api, "无编号已交办")
    exported = api.get("/items/export", params={"format": "csv", "rows": per}, expect=200)
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    header, rows = table[0], table[1:]
    number, ref = header.index("编号"), header.index("外部编号")
    for row in rows:
        if row[number] == item["number"]:
            row[ref] = "NEWREF-1"
    content = csv_file(header, rows)
    body = upsert(api, content)
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 3)
    after = api.get(f"/items/{item['id']}", expect=200).json()
    assert after["external_ref"] == "NEWREF-1" and after["version"] == item["version"] + 1
    assert len(api.get("/items", params={"limit": 500}).json()["data"]) == 4  # none new
    last = api.history(item["id"])[-1]
    assert (last["action"], last["data"]["changed"]) == ("edit", {"external_ref": "NEWREF-1"})
    assert verify(api, item)["ok"]
    again = upsert(api, content)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)


def test_a_row_whose_number_and_external_ref_name_different_items_is_an_error(api, office):
    """编号 and 外部编号 of one row must name one item: the ref of another item, another
    ref than the item's own, or one ref given to two items in the file is the row's
    error (in Chinese, or English with lang=en), and nothing changes."""
    _ledger(api, office)
    with_ref, without = by_ref(api, "REF-1"), _item(api, "无编号已交办")
    header = ["编号", "标题", "来源", "外部编号"]
    cases = [
        ([[without["number"], "无编号已交办", "巡视巡察", "REF-1"]], [2], "REF-1"),
        ([[with_ref["number"], "有编号已交办", "巡视巡察", "REF-2"]], [2], "REF-2"),
        (
            [
                [without["number"], "无编号已交办", "巡视巡察", "NEWREF-2"],
                [_item(api, "无编号未交办")["number"], None, None, "NEWREF-2"],
            ],
            [3],
            "NEWREF-2",
        ),
    ]
    for rows, bad, ref in cases:
        body = assert_problem(upload(api, csv_file(header, rows), "a.csv", mode="upsert"), 422)
        assert [(e["row"], e["field"]) for e in body["errors"]] == [
            (r, "number" if len(rows) > 1 else "external_ref") for r in bad
        ], body
        message = body["errors"][0]["message"]
        assert ref in message or "第 2 行" in message, message
        english = upload(api, csv_file(header, rows), "a.csv", mode="upsert", lang="en").json()
        assert all(not any("\u4e00" <= c <= "\u9fff" for c in e["message"].split(":", 1)[1])
                   for e in english["errors"] if len(rows) == 1), english  # fmt: skip
    first = assert_problem(upload(api, csv_file(header, cases[0][0]), "a.csv", mode="upsert"), 422)
    assert first["errors"][0]["message"] == (
        f"外部编号：外部编号“REF-1”已是问题 {with_ref['number']} 的，"
        f"而编号 {without['number']} 是另一个问题；一行只能对应一个问题"
    )
    second = assert_problem(upload(api, csv_file(header, cases[1][0]), "a.csv", mode="upsert"), 422)
    assert second["errors"][0]["message"] == (
        f"外部编号：问题 {with_ref['number']} 已有外部编号“REF-1”，不能改为“REF-2”"
    )
    assert by_ref(api, "REF-1")["version"] == with_ref["version"]
    assert _item(api, "无编号已交办")["external_ref"] is None
    # a file of updates without 来源: the row is refused for naming two items, nothing else
    rows = [[without["number"], "无编号已交办", "REF-1"]]
    content = csv_file(["编号", "标题", "外部编号"], rows)
    body = assert_problem(upload(api, content, "a.csv", mode="upsert"), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "external_ref")]


def test_a_ref_another_request_takes_while_the_file_is_checked_is_a_conflict(
    api, office, monkeypatch
):
    from sqlalchemy import update

    from app.db import unit_of_work
    from app.items.models import Item
    from app.ledger import importer

    _ledger(api, office)
    item, other = _item(api, "无编号已交办"), _item(api, "无编号未交办")
    checked = importer.check

    def check_then_take(*args, **kwargs):
        planned = checked(*args, **kwargs)
        with unit_of_work(engine=api.engine) as session:
            taken = update(Item).where(Item.id == other["id"]).values(external_ref="NEWREF-3")
            session.execute(taken)
        return planned

    monkeypatch.setattr(importer, "check", check_then_take)
    content = csv_file(["编号", "标题", "外部编号"], [[item["number"], "无编号已交办", "NEWREF-3"]])
    body = assert_problem(upload(api, content, "a.csv", mode="upsert"), 409)
    assert "NEWREF-3" not in body["detail"] and "外部编号" in body["detail"]
    assert api.get(f"/items/{item['id']}", expect=200).json()["external_ref"] is None


def _latin(text: str) -> bool:
    return any("a" <= c.lower() <= "z" for c in text)


def test_row_errors_the_item_and_measure_rules_raise_are_said_in_chinese(api, office):
    """A refusal of the services' rules (a closed item's measures, a field too long) is
    a row error in the user's language, not the service's English text inside it."""
    court = api.key("unit", "court")
    closed = api.item_in(
        "closed_withdrawn", sup=office, unit=court, unit_code="court", due_date="2026-04-30"
    )
    rows = [[closed["number"], closed["title"], "回头看措施"]]
    content = csv_file(["编号", "标题", "整改措施"], rows)
    body = assert_problem(upload(api, content, "a.csv", mode="upsert"), 422)
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("measures", "整改措施：措施“回头看措施”无法导入：所属问题已办结，不能再增加或修改措施")
    ]
    english = assert_problem(upload(api, content, "a.csv", mode="upsert", lang="en"), 422)
    assert english["errors"][0]["message"] == (
        "measures: measure '回头看措施' cannot be imported: the item is closed; its measures "
        "can no longer change"
    )
    pending = api.item_in(
        "review_pending", sup=office, unit=court, unit_code="court", due_date="2026-04-30"
    )
    content = csv_file(
        ["编号", "标题", "整改措施"], [[pending["number"], pending["title"], "补充措施"]]
    )
    body = assert_problem(upload(api, content, "a.csv", mode="upsert"), 422)
    assert [e["message"] for e in body["errors"]] == [
        "整改措施：措施“补充措施”无法导入：所属问题已申请销号（审核中或已验收），"
        "请先退回销号申请再增加措施"
    ]
    long_title = "很长的标题" * 101  # 505 characters: ItemCreate allows 500
    for params in ({}, {"mode": "upsert"}):
        content = csv_file(HEADER, [["审计", long_title, "d", None, None, None]])
        body = assert_problem(upload(api, content, "a.csv", **params), 422)
        assert [e["message"] for e in body["errors"]] == ["标题：超过 500 个字符"]
        english = assert_problem(upload(api, content, "a.csv", lang="en", **params), 422)
        assert english["errors"][0]["message"] == "title: longer than 500 characters"
    # an upsert's 来源 that differs from the item's names the item's by its label
    content = csv_file(HEADER, [["审计", "有编号已交办", "d", None, None, "REF-1"]])
    _ledger(api, office)
    body = assert_problem(upload(api, content, "a.csv", mode="upsert"), 422)
    (error,) = body["errors"]
    assert "来源（巡视巡察）" in error["message"] and not _latin(error["message"])
    english = assert_problem(upload(api, content, "a.csv", mode="upsert", lang="en"), 422)
    assert "'s source (inspection)" in english["errors"][0]["message"]


def test_a_measure_added_by_upsert_defaults_to_the_items_deadline_as_a_new_items_does(api, office):
    """A measure line without 措施类型 on a row that creates its item is 限期整改 by the
    row's 整改时限; on an upsert row that leaves 整改时限 empty (the item's) it was
    立行立改: the same file gave different kinds."""
    _ledger(api, office)
    content = csv_file(
        [*HEADER, "整改措施"], [[None, "有编号已交办", None, None, None, "REF-1", "措施三"]]
    )
    body = upsert(api, content, "a.csv")
    assert (body["created"], body["updated"]) == (0, 1)
    (item,) = api.get("/items", params={"external_ref": "REF-1"}).json()["data"]
    added = api.get(f"/items/{item['id']}/measures").json()["data"][-1]
    assert (added["title"], added["kind"], added["due_date"]) == (
        "措施三",
        "deadline",
        "2026-12-31",
    )
    first = api.get(f"/items/{item['id']}/measures").json()["data"][0]
    assert (first["kind"], first["due_date"]) == ("deadline", "2026-12-31")  # as created
