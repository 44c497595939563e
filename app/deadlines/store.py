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


def load_calendar(session: Session) -> WorkdayCalendar:
    """The statutory calendar with the admin overrides (read on every transition)."""
    rows = session.connection().execute(_OVERRIDES)
    return WorkdayCalendar({day: workday for day, workday in rows})
