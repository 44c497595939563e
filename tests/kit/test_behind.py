"""Bulk writes in a ``writes_behind`` block: sent by another thread on PostgreSQL, in
the order issued, each finished before any other statement runs; the rows are the
ones written without the block, and an error in one is raised and rolls back."""

import threading

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import Session

from app.db import table_of
from app.events.models import Event
from app.kit import behind
from app.kit.behind import writes_behind
from app.kit.executemany import COPY_FROM, ExecuteMany, FastInsert
from tests.kit.test_executemany import EVENTS, _rows, _stored

pytestmark = pytest.mark.db


def test_rows_written_behind_are_stored_in_order_and_seen_by_the_next_statement(engine):
    with Session(engine) as session, session.begin():
        session.execute(insert(EVENTS), _rows("core", 3 * COPY_FROM) + _rows("few", 3))
        with writes_behind(session):
            postgres = session.connection().dialect.name == "postgresql"
            assert (behind.of(session) is not None) == postgres
            FastInsert(EVENTS).execute(session, _rows("fast", 3 * COPY_FROM))  # COPY
            ExecuteMany(insert(EVENTS)).execute(session, _rows("many", 3))  # executemany
            # the next statement waits for both, whichever thread sent them
            counted = session.scalar(
                select(func.count()).where(EVENTS.c.event_id.like("evt_fast_%"))
            )
            assert counted == 3 * COPY_FROM
        assert behind.of(session) is None
        assert _stored(session, "fast") == _stored(session, "core")
        assert _stored(session, "many") == _stored(session, "few")
        ids = session.scalars(
            select(EVENTS.c.id).where(EVENTS.c.event_id.like("evt_fast_%")).order_by(EVENTS.c.id)
        ).all()
        many = session.scalars(
            select(EVENTS.c.id).where(EVENTS.c.event_id.like("evt_many_%"))
        ).all()
        assert max(ids) < min(many)  # sent in the order issued


def test_the_writes_go_out_from_another_thread_on_postgresql_only(engine, monkeypatch):
    threads = set()
    real_copy = FastInsert.execute

    def spy(self, session, rows):
        real_copy(self, session, rows)
        later = behind.of(session)
        if later is not None:
            later.submit(lambda: threads.add(threading.current_thread().name))

    monkeypatch.setattr(FastInsert, "execute", spy)
    with Session(engine) as session, session.begin(), writes_behind(session):
        FastInsert(EVENTS).execute(session, _rows("t", COPY_FROM))
        postgres = session.connection().dialect.name == "postgresql"
    assert bool(threads) == postgres
    assert all(name.startswith("writes-behind") for name in threads)


@pytest.mark.parametrize("where", ["next statement", "block end"])
def test_an_error_behind_is_raised_and_the_transaction_rolls_back(engine, where):
    duplicate = _rows("dup", COPY_FROM)
    with Session(engine) as session, session.begin():
        session.execute(insert(EVENTS), duplicate[:1])
    with (
        pytest.raises(Exception, match="(?i)unique|duplicate"),  # either driver's error
        Session(engine) as session,
        session.begin(),
        writes_behind(session),
    ):
        FastInsert(EVENTS).execute(session, _rows("lost", COPY_FROM))
        FastInsert(EVENTS).execute(session, duplicate)  # the event_id is taken
        if where == "next statement":
            session.scalar(select(func.count()).select_from(table_of(Event)))
            pytest.fail("the statement after a failed write must not run")
    with Session(engine) as session:
        assert _stored(session, "lost") == []
        assert len(_stored(session, "dup")) == 1


def test_a_block_inside_another_keeps_the_outer_writer(engine):
    with Session(engine) as session, session.begin(), writes_behind(session):
        outer = behind.of(session)
        with writes_behind(session):
            assert behind.of(session) is outer
        assert behind.of(session) is outer
        FastInsert(EVENTS).execute(session, _rows("nested", COPY_FROM))
        assert len(_stored(session, "nested")) == COPY_FROM
