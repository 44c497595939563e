"""The scan's query is served by the next_check_at index, never a table sweep, and a
batch after the first starts the index range at the previous batch's last row."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.deadlines.scan import due_items_query

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _plan(engine, stmt) -> str:
    """The plan of ``stmt`` sent as the scan sends it: with bound parameters (given
    literal values, SQLite would plan the resume condition better than it does)."""
    compiled = stmt.compile(engine)
    given = compiled.construct_params()

    def bound(name):
        process = compiled.binds[name].type.bind_processor(engine.dialect)
        return process(given[name]) if process else given[name]

    if compiled.positiontup:
        args: tuple | dict = tuple(bound(name) for name in compiled.positiontup)
    else:
        args = {name: bound(name) for name in given}
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            return " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled), args))
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), args)
        return " ".join(r[-1] for r in rows)


@pytest.mark.parametrize("after", [None, (datetime(2026, 10, 30, tzinfo=UTC), 42)])
def test_due_items_query_reads_one_range_of_the_next_check_index(engine, after):
    postgres = engine.dialect.name == "postgresql"
    plan = _plan(engine, due_items_query(NOW, after=after, postgres=postgres))
    assert "ix_item_next_check" in plan, plan
    assert "SCAN item" not in plan and "Seq Scan" not in plan, plan
    # In index order, no sort: a batch reads its own rows, not every due row after the
    # key (the OR form of the resume condition made SQLite sort them all, every batch).
    assert "TEMP B-TREE" not in plan and "MULTI-INDEX OR" not in plan, plan
    assert "Sort" not in plan, plan
