"""Importing ledgers as people actually make them, and refusing broken ones cleanly."""

import io
import re
import zipfile
from datetime import date, datetime

import pytest
from fastapi import UploadFile
from fastapi.testclient import TestClient
from openpyxl import Workbook

from app.errors import PayloadTooLarge
from app.ledger.router import _read_upload
from app.main import create_app
from app.settings import get_settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import Api, assert_problem
from tests.ledger.conftest import CLOCK, upload, xlsx_bytes

HEADER = ["标题", "描述", "来源", "类别", "严重程度", "责任单位", "整改时限", "专项", "外部编号"]


@pytest.fixture
def people(api):
    api.set_clock(CLOCK)
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("gx", "高新技术产业开发区", parent="city")
    return {
        "sup": api.key("supervisor"),
        "viewer": api.key("viewer"),
        "court": api.key("unit", "court"),
    }


def items(api) -> list[dict]:
    return api.get("/items", params={"limit": 500}, expect=200).json()["data"][::-1]


def realistic_ledger() -> bytes:
    """Merged title rows, a 序号 column, date cells, notes, blank rows at the end."""
    wb = Workbook()
    ws = wb.active
    ws.append(["2024年度市委第三巡察组反馈问题整改台账"])
    ws.merge_cells("A1:L1")
    ws.append(["填报单位：市纪委监委（盖章）", None, None, None, None, "填报日期：2026年3月2日"])
    ws.merge_cells("A2:E2")
    ws.append(["序号", *HEADER, "整改进展", "状态"])
    rows = [
        [
            "“三重一大”事项未经集体研究",
            "巡察反馈",
            "巡视巡察",
            "作风建设",
            "高",
            "市中级人民法院",
            datetime(2026, 6, 30),
            "2024巡察",
            "XC-001",
        ],
        [
            "道路建设项目前期规划论证不充分",
            None,
            "审计",
            None,
            "严重",
            "gx",
            datetime(2026, 9, 30),
            "上级审计反馈",
            "SJ-7",
        ],
        [
            "群众反映小区供暖温度不达标",
            "热线转办",
            "12345热线",
            None,
            "一般",
            None,
            None,
            None,
            "12345-2026-0001",
        ],
        [
            "项目前期手续办理迟缓",
            None,
            "考核",
            None,
            None,
            "市中级人民法院",
            "2026-04-30",
            "重点项目专项监督",
            None,
        ],
        ["述责述廉报告问题整改不彻底", None, "谈话", None, "低", "court", "2026/5/8", None, None],
    ]
    for n, row in enumerate(rows, start=1):
        ws.append([n, *row, "整改中", "已交办"])
        ws.cell(ws.max_row, 8).number_format = "yyyy年m月d日"
    ws.append([6])
    ws.append([None, "   ", None])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_realistic_ledger_imports_and_assigns_rows_with_unit_and_deadline(api, people):
    r = upload(api, realistic_ledger(), token=people["sup"])
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 5, "errors": [], "assigned": 4}

    got = items(api)
    assert [i["source"] for i in got] == ["inspection", "audit", "hotline", "assessment", "talk"]
    assert [i["state"] for i in got] == ["assigned", "assigned", "found", "assigned", "assigned"]
    assert [i["unit_code"] for i in got] == ["court", "gx", None, "court", "court"]
    assert [i["due_date"] for i in got] == [
        "2026-06-30",
        "2026-09-30",
        None,
        "2026-04-30",
        "2026-05-08",
    ]
    assert [i["severity"] for i in got] == ["high", "critical", "normal", "normal", "low"]
    assert got[2]["external_ref"] == "12345-2026-0001"
    assert got[0]["campaign"] == "2024巡察" and got[1]["description"] == ""

    history = api.get(f"/items/{got[0]['id']}/history", expect=200).json()["data"]
    assert [(h["action"], h["to_state"]) for h in history] == [
        ("create", "found"),
        ("assign", "assigned"),
    ]
    assert all(h["actor"].startswith("supervisor:") for h in history)
    assert api.get(f"/items/{got[0]['id']}/history/verify").json()["ok"] is True


def test_three_bad_rows_import_nothing_and_are_all_named_by_sheet_row(api, people):
    content = xlsx_bytes(
        [
            HEADER,
            ["好的一行", None, "审计", None, None, None, None, None, None],
            ["来源不对", None, "网络舆情", None, None, None, None, None, None],
            ["时限不是日期", None, "审计", None, None, "court", "2024年底前", None, None],
            ["好的一行二", None, "考核", None, None, "court", date(2026, 5, 1), None, None],
            [None, None, "审计", "没有标题", None, "不存在的单位", date(2026, 5, 1), None, None],
        ],
        title_rows=["问题整改台账"],
    )
    r = upload(api, content)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["created"] == 0 and body["status"] == 422
    assert sorted({e["row"] for e in body["errors"]}) == [4, 5, 7]
    assert {(e["row"], e["field"]) for e in body["errors"]} == {
        (4, "source"),
        (5, "due_date"),
        (7, "title"),
        (7, "unit"),
    }
    assert "网络舆情" in next(e["message"] for e in body["errors"] if e["row"] == 4)
    assert items(api) == []


def test_past_deadline_and_ambiguous_unit_name_are_errors(api, people):
    api.unit("court2", "市中级人民法院", parent="city")
    content = xlsx_bytes(
        [
            ["标题", "来源", "责任单位", "整改时限"],
            ["时限已过", "审计", "court", date(2026, 3, 1)],
            ["同名单位", "审计", "市中级人民法院", "2026-05-01"],
            ["按代码", "审计", "court2", "2026-05-01"],
        ]
    )
    body = upload(api, content).json()
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(2, "due_date"), (3, "unit")}
    assert "court, court2" in next(e["message"] for e in body["errors"] if e["row"] == 3)


def test_a_row_with_only_a_unit_or_only_a_deadline_is_created_found(api, people):
    """API.md: a row with 责任单位 and 整改时限 is assigned; otherwise it is found. A found
    item has neither (only ``assign`` sets them), so the lone value is checked, not kept."""
    content = xlsx_bytes(
        [
            ["标题", "来源", "责任单位", "整改时限"],
            ["只有单位", "审计", "court", None],
            ["只有时限", "审计", None, "2026-05-01"],
            ["只有日期单元格", "审计", "", date(2026, 6, 1)],
            ["两者都有", "审计", "court", "2026-05-01"],
        ]
    )
    r = upload(api, content, token=people["sup"])
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 4, "errors": [], "assigned": 1}
    got = [(i["title"], i["state"], i["unit_code"], i["due_date"]) for i in items(api)]
    assert got == [
        ("只有单位", "found", None, None),
        ("只有时限", "found", None, None),
        ("只有日期单元格", "found", None, None),
        ("两者都有", "assigned", "court", "2026-05-01"),
    ]
    only_unit = items(api)[0]
    assert [h["action"] for h in api.history(only_unit["id"])] == ["create"]


def test_the_one_cell_given_must_still_be_valid(api, people):
    content = xlsx_bytes(
        [
            ["标题", "来源", "责任单位", "整改时限"],
            ["未知单位", "审计", "不存在的单位", None],
            ["不是日期", "审计", None, "年底前"],
            ["已过时限", "审计", None, "2026-03-01"],
        ]
    )
    body = assert_problem(upload(api, content), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (2, "unit"),
        (3, "due_date"),
        (4, "due_date"),
    ]
    assert items(api) == []


CSV_TEXT = (
    "标题,来源,严重程度,责任单位,整改时限,专项\r\n"
    '"企业反映审批材料反复提交，办理时限过长（{0}）",12345热线,高,市中级人民法院,2026-04-15,营商环境\r\n'
    '"群众反映路灯损坏\n长期无人维修（{0}）",hotline,normal,,,\r\n'
    ",,,,,\r\n"
)


def test_csv_with_and_without_bom_in_gbk_and_utf16(api, people):
    encodings = [("utf-8", True), ("utf-8", False), ("gb18030", False), ("utf-16", False)]
    for encoding, bom in encodings:
        tag = f"{encoding}{'-bom' if bom else ''}"
        content = (b"\xef\xbb\xbf" if bom else b"") + CSV_TEXT.format(tag).encode(encoding)
        r = upload(api, content, "台账.csv")
        assert r.status_code == 201, (tag, r.text)
        first, second = items(api)[-2:]
        assert first["title"] == f"企业反映审批材料反复提交，办理时限过长（{tag}）"
        assert first["unit_code"] == "court" and first["due_date"] == "2026-04-15"
        assert second["title"] == f"群众反映路灯损坏\n长期无人维修（{tag}）"
        assert second["state"] == "found"


@pytest.mark.parametrize(
    ("bom", "good", "bad"),
    [
        (b"\xef\xbb\xbf", "标题,来源\r\n短标题,audit\r\n".encode(), b"\xff\xfe\x80abc,audit\r\n"),
        (b"", "标题,来源\r\n短标题,audit\r\n".encode("utf-16"), b"\x00\xd8a\x00,\x00"),
    ],
    ids=["utf-8", "utf-16"],
)
def test_a_csv_whose_bom_names_an_encoding_it_breaks_is_a_file_error(api, people, bom, good, bad):
    """Bytes that are not the encoding the byte-order mark names: 422 naming the line,
    not the text stored with U+FFFD in place of what could not be read."""
    body = assert_problem(upload(api, bom + good + bad, "台账.csv"), 422)
    assert "第 3 行" in body["detail"], body
    assert items(api) == []


def test_a_csv_cell_over_the_parsers_limit_is_a_file_error_in_the_callers_language(api, people):
    content = ("标题,来源\r\n短标题,audit\r\n" + "长" * 200_000 + ",audit\r\n").encode()
    zh = assert_problem(upload(api, content, "台账.csv"), 422)["detail"]
    assert zh == "CSV 文件第 3 行有单元格超过 131072 个字符。"
    en = assert_problem(upload(api, content, "ledger.csv", lang="en"), 422)["detail"]
    assert en == "Row 3 of the CSV file has a cell of more than 131072 characters."


def test_english_headers_and_codes(api, people):
    content = xlsx_bytes(
        [
            ["Title", "source", "SEVERITY", "unit", "due_date", "campaign", "external_ref", "ID"],
            ["Road project stalled", "audit", "critical", "gx", "2026-08-31", "audit-2025", 12345],
        ]
    )
    r = upload(api, content, "ledger.xlsx")
    assert r.status_code == 201, r.text
    got = items(api)[0]
    assert (got["source"], got["severity"], got["unit_code"]) == ("audit", "critical", "gx")
    assert got["external_ref"] == "12345" and got["campaign"] == "audit-2025"


LABELS_AND_CODES = [
    ("巡视巡察", "严重", "inspection", "critical"),
    ("inspection", "critical", "inspection", "critical"),
    ("审计", "低", "audit", "low"),
    ("考核", "一般", "assessment", "normal"),
    ("12345热线", "高", "hotline", "high"),
    ("信访举报", "", "petition", "normal"),
    ("政治生态分析研判", "HIGH", "analysis", "high"),
    ("谈话/述责述廉", "low", "talk", "low"),
    ("谈话", "一般", "talk", "normal"),
    ("其他", "normal", "other", "normal"),
]


def test_labels_and_codes_for_enumerations(api, people):
    rows = [["某问题", source, severity] for source, severity, _, _ in LABELS_AND_CODES]
    assert upload(api, xlsx_bytes([["标题", "来源", "严重程度"], *rows])).status_code == 201
    assert [(i["source"], i["severity"]) for i in items(api)] == [
        (code, severity) for _, _, code, severity in LABELS_AND_CODES
    ]


def _with_cached_formula(content: bytes, cell: str, formula: str, cached: str) -> bytes:
    """Give a formula cell the value a spreadsheet program would have saved with it."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                xml = data.decode()
                xml, n = re.subn(
                    rf'<c r="{cell}"[^>]*>.*?</c>',
                    f'<c r="{cell}" t="str"><f>{formula}</f><v>{cached}</v></c>',
                    xml,
                )
                assert n == 1
                data = xml.encode()
            dst.writestr(info, data)
    return out.getvalue()


def test_formula_cells_are_read_as_saved_values_never_evaluated(api, people):
    content = xlsx_bytes([["标题", "来源", "外部编号"], ['=UPPER("x")', "审计", "=1+1"]])
    content = _with_cached_formula(content, "A2", 'UPPER("x")', "表格里保存的标题")
    content = _with_cached_formula(content, "C2", "1+1", "REF-9")
    r = upload(api, content)
    assert r.status_code == 201, r.text
    got = items(api)[0]
    assert (got["title"], got["external_ref"]) == ("表格里保存的标题", "REF-9")


def test_formula_without_a_saved_value_is_an_error_of_that_cell(api, people):
    content = xlsx_bytes([["标题", "来源"], ["正常", "审计"], ['=A2&"副本"', "审计"]])
    r = upload(api, content)
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(3, "title")]
    assert "公式" in r.json()["errors"][0]["message"]
    english = upload(api, content, lang="en").json()
    assert "formula" in english["errors"][0]["message"]


def test_dry_run_checks_everything_and_creates_nothing(api, people):
    content = realistic_ledger()
    r = upload(api, content, token=people["sup"], dry_run="true")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "created": 0,
        "errors": [],
        "dry_run": True,
        "would_create": 5,
        "would_assign": 4,
    }
    assert items(api) == []
    bad = xlsx_bytes([["标题", "来源"], ["x", "不存在"]])
    assert upload(api, bad, dry_run="true").status_code == 422


def _zip_without_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    return buf.getvalue()


MALFORMED = [  # (content, filename, in the English detail, in the Chinese one)
    (b"", "a.xlsx", "empty", "文件为空"),
    (b"PK\x03\x04garbage-not-a-zip" * 20, "a.xlsx", "not a valid .xlsx", "不是有效的 .xlsx"),
    (_zip_without_workbook(), "a.xlsx", "not a valid .xlsx", "不是有效的 .xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls", ".xls", ".xls"),
    (b"just some text\nwithout any header\n", "a.csv", "No header row", "没有表头"),
    ("标题,来源\r\n".encode(), "a.csv", "no data rows", "没有数据行"),
    (b"a,b\x00,c\n", "a.csv", "neither", "既不是"),
    (bytes(range(256)) * 40, "blob.bin", "neither", "既不是"),
    ("标题,标题,来源\r\nx,y,审计\r\n".encode(), "a.csv", "twice", "重复"),
    ("标题,类别\r\nx,y\r\n".encode(), "a.csv", "来源", "没有“来源”列"),
]


def test_malformed_files_are_422_with_a_clear_message_in_the_imports_language(api, people):
    """Chinese by default, as row errors are; English with ``lang=en``."""
    for content, filename, en, zh in MALFORMED:
        for lang, fragment in ((None, zh), ("en", en)):
            r = upload(api, content, filename, **({"lang": lang} if lang else {}))
            assert r.status_code == 422, (filename, fragment, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert fragment in r.json()["detail"], (fragment, r.json()["detail"])
            assert r.json()["created"] == 0 and r.json()["errors"][0]["message"]
    assert items(api) == []


def test_row_limit(api, people, monkeypatch):
    monkeypatch.setenv("RECTIFY_MAX_IMPORT_ROWS", "3")
    get_settings.cache_clear()
    content = xlsx_bytes([["标题", "来源"]] + [[f"问题{i}", "审计"] for i in range(4)])
    r = upload(api, content)
    assert r.status_code == 422 and "文件超过 3 行" in r.json()["detail"]
    assert upload(api, xlsx_bytes([["标题", "来源"]] + [["x", "审计"]] * 3)).status_code == 201
    padded = xlsx_bytes([["序号", "标题", "来源"], [1, "x", "审计"]] + [[n] for n in range(2, 20)])
    r = upload(api, padded, lang="en")
    assert r.status_code == 422 and "more than 12 rows (blank ones included)" in r.json()["detail"]


def test_missing_file_field_is_422(api, people):
    r = api.post("/items/import", data={"nothing": "here"})
    assert r.status_code == 422


def test_only_admin_and_supervisor_import(api, people):
    content = xlsx_bytes([["标题", "来源"], ["x", "审计"]])
    assert upload(api, content, token=people["viewer"]).status_code == 403
    assert upload(api, content, token=people["court"]).status_code == 403
    assert upload(api, content, token=None).status_code == 401
    assert upload(api, content, token=people["sup"]).status_code == 201


def test_upload_size_limit_is_413(engine, monkeypatch):
    monkeypatch.setenv("RECTIFY_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    with TestClient(create_app(engine, migrate=False), raise_server_exceptions=False) as client:
        api = Api(client, ADMIN_TOKEN)
        r = upload(api, b"x" * (1024 * 1024 + 200_000), "big.csv")
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/problem+json")
    big = UploadFile(io.BytesIO(b"x" * (1024 * 1024 + 1)), filename="big.csv")
    with pytest.raises(PayloadTooLarge):
        _read_upload(big)


CONTROL_CSV = (
    "标题,描述,来源,责任人\r\n"
    "t\x07x,d\x00e,审计,张\x1b三\r\n"
    '好的一行,"制表符\t换行\n回车\r都可以",审计,李四\r\n'
)
"""The audit's row: a BEL in the title, a NUL in the description, an ESC in 责任人."""


def test_control_characters_in_cells_are_row_errors_naming_the_column(api, people):
    """API.md, "Hostile input": NUL and other control characters (tab, newline and
    carriage return excepted) are 422 naming the field -- the rule the JSON
    endpoints apply (``app.guard``), for the import's cells."""
    content = b"\xef\xbb\xbf" + CONTROL_CSV.encode()
    body = assert_problem(upload(api, content, "台账.csv"), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (2, "title"),
        (2, "description"),
        (2, "responsible_person"),
    ]
    assert "控制字符" in body["errors"][0]["message"]
    english = assert_problem(upload(api, content, "台账.csv", lang="en"), 422)
    assert "control character" in english["errors"][0]["message"]
    assert upload(api, content, "台账.csv", dry_run="true").status_code == 422
    assert items(api) == []
    header, _bad, good = CONTROL_CSV.split("\r\n", 2)
    r = upload(api, b"\xef\xbb\xbf" + f"{header}\r\n{good}".encode(), "台账.csv")
    assert r.status_code == 201, r.text
    assert items(api)[0]["description"] == "制表符\t换行\n回车\r都可以"


# Every column an import reads, each with a control character in an otherwise good row.
CONTROL_COLUMNS = {
    "标题": ("title", "标\x01题"),
    "描述": ("description", "\x00"),
    "来源": ("source", "审计\x7f"),
    "类别": ("category", "类\x1f别"),
    "严重程度": ("severity", "高\x0b"),
    "责任单位": ("unit", "court\x0c"),
    "整改时限": ("due_date", "2026-05-01\x08"),
    "专项": ("campaign", "专\x85项"),
    "外部编号": ("external_ref", "REF\x00-1"),
    "配合单位": ("co_units", "gx\x02"),
    "责任人": ("responsible_person", "张\x1b三"),
    "责任领导": ("responsible_leader", "王\x9f"),
    "整改措施": ("measures", "措施一\n措\x07施二"),
    "措施类型": ("measure_kind", "立行立改\x06"),
    "措施时限": ("measure_due", "\x002026-05-01"),
    "措施责任单位": ("measure_unit", "court\x03"),
    "工单类型": ("type", "投诉\x04"),
}
GOOD_ROW = {"标题": "好标题", "来源": "审计", "责任单位": "court", "整改时限": "2026-05-01"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("column", CONTROL_COLUMNS)
def test_every_imported_column_refuses_control_characters(api, people, column, fmt):
    field, value = CONTROL_COLUMNS[column]
    header = list(dict.fromkeys([*GOOD_ROW, column]))
    good = [GOOD_ROW.get(h) for h in header]
    bad = [value if h == column else GOOD_ROW.get(h) for h in header]
    if fmt == "csv":
        lines = [",".join(header)] + [",".join(f'"{v or ""}"' for v in row) for row in (good, bad)]
        content, name = b"\xef\xbb\xbf" + "\r\n".join(lines).encode(), "台账.csv"
    else:
        content, name = _xlsx_with_raw_text([header, good, bad]), "台账.xlsx"
    body = assert_problem(upload(api, content, name), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, field)]
    assert items(api) == []


def _xlsx_with_raw_text(rows: list[list]) -> bytes:
    """A workbook whose cells hold control characters, escaped as Excel saves them
    (``_x0007_``): openpyxl refuses to write them itself."""
    marks: dict[str, str] = {}

    def marked(value):
        if isinstance(value, str) and re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", value):
            mark = f"CTRLMARK{len(marks)}X"
            marks[mark] = re.sub(
                "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", lambda m: f"_x{ord(m[0]):04X}_", value
            )
            return mark
        return value

    content = xlsx_bytes([[marked(v) for v in row] for row in rows])
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            for mark, escaped in marks.items():
                data = data.replace(mark.encode(), escaped.encode())
            dst.writestr(info, data)
    return out.getvalue()
