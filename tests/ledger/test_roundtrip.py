"""Done means: export 1,000 items, import them into an empty database, export again."""

import csv
import io
from datetime import date, timedelta

from app.auth.models import Role
from app.auth.service import Caller
from app.db import unit_of_work
from app.items.models import Severity, Source
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import new_item
from app.items.transitions import transition
from tests.ledger.conftest import CLOCK, comparable, sheet_rows, upload

UNITS = [("city", "某市", None), ("court", "市中级人民法院", "city"), ("gx", "高新区", "city")]
TRICKY_TITLES = [
    "标题, 含逗号",
    '含"引号"的标题',
    "=1+1 看起来像公式",
    "-5% 完成率偏低",
    "  首尾空格会被去掉  ",
    "多行\n标题",
]


def _seed(engine, count: int) -> None:
    sup = Caller(0, "市纪委监委", Role.supervisor)
    sources, severities = list(Source), list(Severity)
    with unit_of_work(engine=engine) as session:
        for i in range(count):
            item = new_item(
                session,
                sup,
                ItemCreate(
                    title=TRICKY_TITLES[i] if i < len(TRICKY_TITLES) else f"问题{i}：审批材料不全",
                    description=""
                    if i % 7 == 0
                    else f"第{i}项\n整改要求：限期完成，报送佐证材料。",
                    source=sources[i % len(sources)],
                    category=None if i % 5 == 0 else f"类别{i % 3}",
                    severity=severities[i % len(severities)],
                    campaign=None if i % 4 == 0 else f"专项{i % 6}",
                    external_ref=None if i % 3 else f"{i:05d}",
                ),
            )
            if i % 5 == 1:
                transition(
                    session,
                    sup,
                    item.id,
                    TransitionRequest(
                        action="assign",
                        unit_code=("court", "gx", "city")[i % 3],
                        due_date=date(2026, 3, 31) + timedelta(days=i % 90),
                    ),
                    None,
                )


def _prepare(api) -> None:
    api.set_clock(CLOCK)
    for code, name, parent in UNITS:
        api.unit(code, name, parent)


def test_export_1000_import_into_empty_database_export_again_same_rows(api, engine, second_api):
    _prepare(api)
    _seed(engine, 1000)
    first = api.get("/items/export", params={"format": "xlsx"}, expect=200)
    assert first.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows = sheet_rows(first.content)
    assert len(rows) == 1001

    _prepare(second_api)
    r = upload(second_api, first.content, "ledger.xlsx")
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 1000, "errors": [], "assigned": 200}

    again = second_api.get("/items/export", params={"format": "xlsx"}, expect=200)
    assert comparable(sheet_rows(again.content)) == comparable(rows)

    imported = second_api.get("/items", params={"state": "assigned", "limit": 1}).json()
    history = second_api.get(f"/items/{imported['data'][0]['id']}/history").json()["data"]
    assert [h["action"] for h in history] == ["create", "assign"]


def test_csv_round_trip_keeps_quotes_newlines_and_formula_like_text(api, engine, second_api):
    _prepare(api)
    _seed(engine, 40)
    first = api.get("/items/export", params={"format": "csv"}, expect=200)
    assert first.content.startswith(b"\xef\xbb\xbf")
    assert "'=1+1 看起来像公式" in first.content.decode("utf-8-sig")

    _prepare(second_api)
    r = upload(second_api, first.content, "ledger.csv")
    assert r.status_code == 201, r.text
    again = second_api.get("/items/export", params={"format": "csv"}, expect=200)

    def lines(content: bytes) -> list[list[str]]:
        return [list(row) for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))]

    assert comparable(lines(again.content)) == comparable(lines(first.content))
    titles = {i["title"] for i in second_api.get("/items", params={"limit": 100}).json()["data"]}
    assert {"=1+1 看起来像公式", "-5% 完成率偏低", "多行\n标题", '含"引号"的标题'} <= titles
