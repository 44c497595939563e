"""The meeting documents say what they show: the period report's list of items at
督办/约谈 level is today's, whatever the period, and an empty circular says there is
nothing to report instead of naming 0 units."""

import io

import pytest
from docx import Document

pytestmark = pytest.mark.db


def _text(content: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(content)).paragraphs]


@pytest.fixture
def escalated(api):
    """One item signed for in February, due 02-27, at 约谈 level by 04-02 (the scheduler)."""
    api.unit("court", "市中级人民法院")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock("2026-02-10T02:00:00Z")
    item = api.item(sup, source="audit")
    api.act(item["id"], "assign", sup, unit_code="court", due_date="2026-02-27")
    api.act(item["id"], "accept", court)
    api.set_clock("2026-04-02T02:00:00Z")
    api.post("/admin/scheduler/tick", expect=200)
    circular = api.get("/reports/circular", params={"min_level": 2}, expect=200).json()
    assert circular["total"] == 1
    return api.get(f"/items/{item['id']}", expect=200).json()


def test_a_past_periods_report_lists_todays_escalated_items_and_says_so(api, escalated):
    params = {"from": "2024-01-01", "to": "2024-01-31", "format": "docx"}
    r = api.get("/reports/period", params=params, expect=200)
    text = _text(r.content)
    assert "二、截至2026年4月2日处于督办、约谈的问题" in text
    assert (
        "本期截至2024年1月31日；以下是2026年4月2日处于督办、约谈的问题，不是本期期末的情况。"
        in text
    )
    rows = [[c.text for c in row.cells] for row in Document(io.BytesIO(r.content)).tables[1].rows]
    assert [row[1] for row in rows[1:]] == [escalated["number"]]
    # a period that ends today needs no such note
    params = {"from": "2026-04-01", "to": "2026-04-02", "format": "docx"}
    text = _text(api.get("/reports/period", params=params, expect=200).content)
    assert "二、截至2026年4月2日处于督办、约谈的问题" in text
    assert not any(p.startswith("本期截至") for p in text)


def test_a_circular_without_such_items_says_there_are_none(api, escalated):
    r = api.get("/reports/circular", params={"min_level": 5, "format": "docx"}, expect=200)
    text = _text(r.content)
    assert "截至2026-04-02，没有督办级别在5级及以上的未完成问题，无需通报。" in text
    assert not any("0个单位" in p or "请相关单位立即整改" in p for p in text)
    assert Document(io.BytesIO(r.content)).tables == []


def test_a_report_without_escalated_items_says_there_are_none_today(api):
    api.set_clock("2026-02-20T02:00:00Z")
    params = {"from": "2026-02-01", "to": "2026-02-20", "format": "docx"}
    text = _text(api.get("/reports/period", params=params, expect=200).content)
    assert text[-2:] == [
        "二、截至2026年2月20日处于督办、约谈的问题",
        "截至2026年2月20日，没有处于督办、约谈的问题。",
    ]
