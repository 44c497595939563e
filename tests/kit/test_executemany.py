"""FastInsert writes what SQLAlchemy's own INSERT writes: by executemany, and on
PostgreSQL by COPY (many rows) or executemany (a few, or inside a pipeline)."""

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Text, bindparam, cast, insert, select, update
from sqlmodel import Session

from app.db import JsonText, json_text, table_of
from app.events.models import Event
from app.kit.behind import writes_behind
from app.kit.executemany import COPY_FROM, FastInsert, FastUpdate

pytestmark = pytest.mark.db

EVENTS = table_of(Event)
MOMENT = datetime(2026, 3, 2, 2, 0, 0, 0, tzinfo=UTC)
AWKWARD = ["整改\t完成", "line\nbreak", "back\\slash", "引号\"'", "", "\\N", "NULL"]


def _rows(prefix: str, n: int) -> list[dict]:
    return [
        {
            "event_id": f"evt_{prefix}_{k}",
            "type": "item.updated",
            "subject": f"items/{k}",
            "item_id": k if k % 3 else None,
            "unit_code": AWKWARD[k % len(AWKWARD)],
            "co_unit_codes": [AWKWARD[k % len(AWKWARD)], "县纪委"] if k % 2 else None,
            "time": MOMENT + timedelta(microseconds=k * 999_999),
            "data": {"item": {"title": AWKWARD[k % len(AWKWARD)], "n": k, "x": [1.5, None]}},
            "dispatched": bool(k % 2),
        }
        for k in range(n)
    ]


def _stored(session: Session, prefix: str) -> list[tuple]:
    columns = [c for c in EVENTS.c if c.name not in ("id", "event_id")]
    found = session.execute(
        select(*columns).where(EVENTS.c.event_id.like(f"evt_{prefix}_%")).order_by(EVENTS.c.id)
    )
    return [tuple(r) for r in found]


@pytest.mark.parametrize("n", [3, COPY_FROM, 3 * COPY_FROM])
@pytest.mark.parametrize("pipelined", [False, True])
def test_rows_are_stored_as_sqlalchemys_insert_stores_them(engine, n, pipelined):
    with Session(engine) as session, session.begin():
        session.execute(insert(EVENTS), _rows("core", n))
        conn = session.connection()
        driver = conn.connection.driver_connection
        if pipelined and conn.dialect.name != "postgresql":
            pytest.skip("a pipeline is psycopg's")
        with driver.pipeline() if pipelined else nullcontext():
            FastInsert(EVENTS).execute(session, _rows("fast", n))
        fast, core = _stored(session, "fast"), _stored(session, "core")
    assert len(fast) == n and fast == core


@pytest.mark.parametrize("n", [3, 3 * COPY_FROM])
def test_json_given_as_its_text_is_stored_as_the_value_is(engine, n):
    """A ``JsonText`` (an event's data made once) is written as the dict it encodes is:
    the same text stored (by executemany, or COPY on PostgreSQL)."""
    as_text = [{**row, "data": JsonText(json_text(row["data"]))} for row in _rows("text", n)]
    with Session(engine) as session, session.begin():
        session.execute(insert(EVENTS), _rows("core", n))
        FastInsert(EVENTS).execute(session, as_text)
        assert _stored(session, "text") == _stored(session, "core")
        texts = {
            prefix: session.scalars(
                select(cast(EVENTS.c.data, Text))
                .where(EVENTS.c.event_id.like(f"evt_{prefix}_%"))
                .order_by(EVENTS.c.id)
            ).all()
            for prefix in ("text", "core")
        }
    assert texts["text"] == texts["core"] == [json_text(r["data"]) for r in _rows("x", n)]


@pytest.mark.parametrize("n", [3, 3 * COPY_FROM])
@pytest.mark.parametrize("behind", [False, True])
def test_rows_updated_as_sqlalchemys_update_updates_them(engine, n, behind):
    """``FastUpdate`` (by a temporary table's copy on PostgreSQL, for many rows) leaves
    the rows as SQLAlchemy's executemany UPDATE does, inside ``writes_behind`` too."""
    new = _rows("new", n)
    with Session(engine) as session, session.begin():
        session.execute(insert(EVENTS), _rows("core", n) + _rows("fast", n))
        ids = {
            prefix: session.scalars(
                select(EVENTS.c.id).where(EVENTS.c.event_id.like(f"evt_{prefix}_%"))
            ).all()
            for prefix in ("core", "fast")
        }

        def changes(prefix: str) -> list[dict]:
            return [
                {
                    "row_id": row_id,
                    "unit_code": row["unit_code"] + "改",
                    "co_unit_codes": row["co_unit_codes"] and row["co_unit_codes"][::-1],
                    "time": row["time"] + timedelta(days=1),
                    "data": {"again": row["data"]},
                    "dispatched": not row["dispatched"],
                }
                for row_id, row in zip(sorted(ids[prefix]), reversed(new), strict=True)
            ]

        by_id = update(EVENTS).where(EVENTS.c.id == bindparam("row_id"))
        session.execute(by_id, changes("core"))
        with writes_behind(session) if behind else nullcontext():
            FastUpdate(EVENTS, "id", "row_id").execute(session, changes("fast"))
        fast, core = _stored(session, "fast"), _stored(session, "core")
    assert len(fast) == n and fast == core
