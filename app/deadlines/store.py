"""Admin calendar overrides, stored in the database; they win over statutory data."""

from datetime import date

from sqlmodel import Field, Session, SQLModel, select

from app.deadlines.calendar import WorkdayCalendar


class CalendarOverride(SQLModel, table=True):
    __tablename__ = "calendar_override"
    day: date = Field(primary_key=True)
    workday: bool
    note: str | None = Field(default=None, max_length=200)


_OVERRIDES = select(CalendarOverride.day, CalendarOverride.workday)
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


def forget_calendar(session: Session) -> None:
    """Drop the transaction's cached calendar (after changing an override in it)."""
    session.info.pop(_CALENDAR, None)
