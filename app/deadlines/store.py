"""Admin calendar overrides, stored in the database; they win over statutory data."""

import json
from datetime import date
from functools import lru_cache

from sqlalchemy import literal_column
from sqlmodel import Session, col, select

from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.models import CalendarOverride

_OVERRIDES = select(col(CalendarOverride.day), col(CalendarOverride.workday))
_CALENDAR = "calendar"


def load_calendar(session: Session) -> WorkdayCalendar:
    """The statutory calendar with the admin overrides, read once per transaction
    (an import assigns thousands of items in one)."""
    conn = session.connection()  # begins the transaction the cached copy belongs to
    transaction = session.get_transaction()
    cached = session.info.get(_CALENDAR)
    if cached is not None and cached[0] is transaction:
        return cached[1]
    rows = conn.execute(_OVERRIDES)
    calendar = WorkdayCalendar({day: workday for day, workday in rows})
    session.info[_CALENDAR] = (transaction, calendar)
    return calendar


# The overrides as one JSON text, for a statement that reads something else too
# (``overrides_json``); small table, read whole.
_OVERRIDES_JSON = {
    "postgresql": "(SELECT coalesce(json_agg(json_build_array(o.day, o.workday) ORDER BY o.day)"
    "::text, '[]') FROM calendar_override o)",
    "sqlite": "(SELECT json_group_array(json_array(o.day, o.workday)) FROM "
    "(SELECT day, workday FROM calendar_override ORDER BY day) o)",
}


def overrides_json(dialect: str):
    """A column expression: every override as JSON text, for ``use_overrides_json``."""
    return literal_column(_OVERRIDES_JSON[dialect]).label("calendar_overrides")


@lru_cache(maxsize=16)
def _calendar_of(raw: str) -> WorkdayCalendar:
    # Shared between requests and threads: a WorkdayCalendar is never changed.
    return WorkdayCalendar({date.fromisoformat(d): bool(w) for d, w in json.loads(raw)})


def use_overrides_json(session: Session, raw: str) -> None:
    """Make the overrides read (as ``overrides_json``) in this transaction its calendar:
    the hot path (a transition) reads them with its caller instead of in a statement of
    their own, and the calendar built from the same text is reused across requests."""
    session.info[_CALENDAR] = (session.get_transaction(), _calendar_of(raw))


def forget_calendar(session: Session) -> None:
    """Drop the transaction's cached calendar (after changing an override in it)."""
    session.info.pop(_CALENDAR, None)
