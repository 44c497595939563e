"""Documents of the meeting reports: views of the same rows the JSON gives.

The period report as a workbook (the table and a native Excel bar chart) or a
Word 整改进展情况 report; the circular (通报) as a Word document.
"""

import io
from datetime import date

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
GROUP_HEADER = {"source": "来源", "unit": "单位", "type": "工单类型"}
COLUMNS = (
    ("new", "本期新增"),
    ("closed", "本期办结"),
    ("rectified", "本期整改到位"),
    ("open_at_end", "期末在办"),
    ("overdue_at_end", "期末逾期"),
    ("cumulative_rectified", "累计整改到位"),
    ("rectification_rate", "整改率"),
    ("on_time_rate", "按期整改率"),
    ("satisfaction_rate", "满意率"),
)
CHARTED = ("new", "closed", "rectified", "overdue_at_end")
LEVEL_NAMES = {2: "督办", 3: "约谈"}
LISTED_ITEMS = 200  # the meeting report lists the first ones; the circular has them all


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _cell(key: str, value):
    return percent(value) if key.endswith("_rate") else value


def _rows(report: dict) -> list[tuple[str, str, dict]]:
    """(rank, label, figures) per group, children indented under their unit."""
    rows = []
    for g in report["groups"]:
        rows.append((g.get("rank") or "", g["label"], g))
        for child in g.get("children") or []:
            rows.append(("", f"　{child['label']}", child))
    return rows


def title(report: dict) -> str:
    return f"问题整改进展情况（{report['from']}至{report['to']}）"


def headline(report: dict) -> str:
    t = report["totals"]
    return (
        f"本期新增问题{t['new']}个，办结{t['closed']}个（其中整改到位{t['rectified']}个）；"
        f"期末在办{t['open_at_end']}个，其中逾期{t['overdue_at_end']}个；"
        f"累计整改到位{t['cumulative_rectified']}个，整改率{percent(t['rectification_rate'])}，"
        f"按期整改率{percent(t['on_time_rate'])}"
        + (
            f"，满意率{percent(t['satisfaction_rate'])}"
            if t["satisfaction_rate"] is not None
            else ""
        )
        + "。"
    )


def period_xlsx(report: dict) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = "月度调度"
    ws.append([title(report)])
    ws["A1"].font = Font(bold=True, size=14)
    header = ["排名", GROUP_HEADER.get(report["group"], "分组"), *(zh for _, zh in COLUMNS)]
    ws.append(header)
    for cell in ws[2]:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    top_rows = []
    for rank, label, figures in _rows(report):
        ws.append([rank, label, *(_cell(k, figures[k]) for k, _ in COLUMNS)])
        if not label.startswith("　"):
            top_rows.append(ws.max_row)
    ws.append(["", "合计", *(_cell(k, report["totals"][k]) for k, _ in COLUMNS)])
    ws.column_dimensions["B"].width = 28
    for index in range(3, len(header) + 1):
        ws.column_dimensions[get_column_letter(index)].width = 13
    if top_rows:
        _chart(wb, ws, report, top_rows)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _chart(wb, ws, report: dict, top_rows: list[int]) -> None:
    """A clustered bar chart of the top-level groups (data copied to a plain range)."""
    data = wb.create_sheet("图表数据")
    data.append([GROUP_HEADER.get(report["group"], "分组"), *(dict(COLUMNS)[k] for k in CHARTED)])
    for row in top_rows:
        label = ws.cell(row, 2).value
        values = [ws.cell(row, 3 + [k for k, _ in COLUMNS].index(k)).value for k in CHARTED]
        data.append([label, *values])
    chart = BarChart()
    chart.type = "col"
    chart.title = title(report)
    chart.y_axis.title = "问题数（个）"
    chart.height = 9
    chart.width = max(16, len(top_rows) * 1.6)  # type: ignore[assignment]  # stubs say int; cm
    refs = Reference(data, min_col=2, max_col=1 + len(CHARTED), min_row=1, max_row=data.max_row)
    chart.add_data(refs, titles_from_data=True)
    chart.set_categories(Reference(data, min_col=1, min_row=2, max_row=data.max_row))
    ws.add_chart(chart, f"B{ws.max_row + 3}")


def _document(heading: str) -> DocxDocument:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "仿宋"
    style.font.size = Pt(12)
    para = doc.add_heading(heading, level=1)
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return doc


def _table(doc: DocxDocument, header: list[str], rows: list[list]) -> None:
    """A bold header row and ``rows``. The table is made at its full size and each
    value becomes a run in its cell's (empty) paragraph: ``add_row`` and the
    ``cell.text`` setter cost about 1 s for a 200-item list."""
    table = doc.add_table(rows=1 + len(rows), cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.paragraphs[0].add_run(text).bold = True
    cells = table._tbl.xpath("./w:tr/w:tc")[len(header) :]  # document order, row by row
    for i, values in enumerate(rows):
        if len(values) != len(header):
            raise ValueError(f"row {i} has {len(values)} values for {len(header)} columns")
        for tc, value in zip(cells[i * len(header) :], values, strict=False):
            if value is not None and value != "":
                tc.p_lst[0].add_r().text = str(value)


def _save(doc: DocxDocument) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def period_docx(report: dict, escalated: dict, today: date) -> bytes:
    """The meeting's report. Its figures are the period's; the items at 督办/约谈 level
    are those at that level ``today`` (the service's local date: ``circular`` knows
    the levels as they are now, not as they were at the period's end), and headed so,
    with a note when the period ended before today."""
    doc = _document(title(report))
    doc.add_paragraph(headline(report))
    doc.add_heading("一、分" + GROUP_HEADER.get(report["group"], "组") + "情况", level=2)
    header = ["排名", GROUP_HEADER.get(report["group"], "分组"), *(zh for _, zh in COLUMNS)]
    rows = [
        [rank, label, *(_cell(k, f[k]) for k, _ in COLUMNS)] for rank, label, f in _rows(report)
    ]
    rows.append(["", "合计", *(_cell(k, report["totals"][k]) for k, _ in COLUMNS)])
    _table(doc, header, rows)
    day = chinese_date(today)
    doc.add_heading(f"二、截至{day}处于督办、约谈的问题", level=2)
    end = date.fromisoformat(report["to"])
    if end < today:
        doc.add_paragraph(
            f"本期截至{chinese_date(end)}；以下是{day}处于督办、约谈的问题，不是本期期末的情况。"
        )
    _escalated_items(doc, escalated, day)
    return _save(doc)


def _escalated_items(doc: DocxDocument, escalated: dict, day: str) -> None:
    if not escalated["data"]:
        doc.add_paragraph(f"截至{day}，没有处于督办、约谈的问题。")
        return
    rows = [
        [unit["name"], *_overdue_cells(item)]
        for unit in escalated["data"]
        for item in unit["items"]
    ]
    _table(doc, ["责任单位", *_OVERDUE_HEADER], rows)
    if escalated["truncated"]:
        doc.add_paragraph(
            f"（共{escalated['total']}项，此处列出级别最高、逾期最久的{len(rows)}项。）"
        )


def circular_docx(result: dict, day: str) -> bytes:
    doc = _document(f"关于问题整改逾期情况的通报（截至{day}）")
    units, items = len(result["data"]), result["total"]
    if not items:  # no "0个单位共有0个问题……现予通报。请相关单位立即整改"
        doc.add_paragraph(
            f"截至{day}，没有督办级别在{result['min_level']}级及以上的未完成问题，无需通报。"
        )
        return _save(doc)
    doc.add_paragraph(
        f"截至{day}，{units}个单位共有{items}个问题逾期未完成整改、已被督办或约谈，现予通报。"
        "请相关单位立即整改，并于5个工作日内报送整改情况。"
    )
    for number, unit in enumerate(result["data"], start=1):
        doc.add_heading(f"{number}. {unit['name']}（{len(unit['items'])}个）", level=2)
        _table(doc, _OVERDUE_HEADER, [_overdue_cells(item) for item in unit["items"]])
    return _save(doc)


_OVERDUE_HEADER = ["编号", "问题", "整改时限", "逾期工作日", "级别"]


def _overdue_cells(item: dict) -> list:
    """An overdue or escalated item's cells, as the report and the circular both list it."""
    return [
        item["number"],
        item["title"],
        item["due_date"],
        item["workdays_overdue"],
        LEVEL_NAMES.get(item["level"], str(item["level"])),
    ]
