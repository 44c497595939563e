"""Admin calendar overrides: read once per transaction, fresh in the next one."""

from datetime import date

import pytest

from app.db import unit_of_work
from app.deadlines.models import CalendarOverride
from app.deadlines.store import forget_calendar, load_calendar

pytestmark = pytest.mark.db

TYPHOON_FRIDAY = date(2026, 10, 16)


def test_one_transaction_reads_the_overrides_once_and_the_next_reads_them_again(engine):
    with unit_of_work(engine=engine) as session:
        first = load_calendar(session)
        assert load_calendar(session) is first
        assert first.is_workday(TYPHOON_FRIDAY)
    with unit_of_work(engine=engine) as session:
        session.add(CalendarOverride(day=TYPHOON_FRIDAY, workday=False, note="台风停工"))
    with unit_of_work(engine=engine) as session:
        assert not load_calendar(session).is_workday(TYPHOON_FRIDAY)


def test_changing_an_override_inside_the_transaction_drops_the_cached_copy(engine):
    with unit_of_work(engine=engine) as session:
        assert load_calendar(session).is_workday(TYPHOON_FRIDAY)
        session.add(CalendarOverride(day=TYPHOON_FRIDAY, workday=False))
        session.flush()
        forget_calendar(session)
        assert not load_calendar(session).is_workday(TYPHOON_FRIDAY)
