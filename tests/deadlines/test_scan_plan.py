"""The scan's query is served by the next_check_at index, never a table sweep."""

from datetime import UTC, datetime

from sqlalchemy import text

from app.deadlines.scan import due_items_query


def test_due_items_query_uses_the_next_check_index(engine):
    postgres = engine.dialect.name == "postgresql"
    stmt = due_items_query(datetime(2026, 11, 1, tzinfo=UTC), postgres=postgres)
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        if postgres:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
        else:
            plan = " ".join(r[-1] for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "ix_item_next_check" in plan, plan
    assert "SCAN item" not in plan and "Seq Scan" not in plan, plan
