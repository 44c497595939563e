"""Calendar and test-clock endpoints."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import Path as FastPath
from pydantic import BaseModel, Field, StrictBool, field_validator

from app.clock import now
from app.clock.models import TestClock
from app.deadlines import years
from app.deadlines.models import CalendarOverride
from app.deadlines.store import forget_calendar, load_calendar
from app.deps import AdminDep, CallerDep, SessionDep
from app.errors import BadRequest, NotFound, problems
from app.kit.dates import IsoDate, IsoMoment
from app.settings import get_settings

router = APIRouter(tags=["calendar"])
MAX_RANGE_DAYS = 3660


class WorkdaysAnswer(BaseModel):
    workdays: int
    days: list[date]


class DayOverride(BaseModel):
    workday: StrictBool  # JSON true/false only: 0 or "yes" is 422, as the schema says
    note: str | None = Field(default=None, max_length=200)


class DayOverridePublic(DayOverride):
    date: date


CLOCK_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC))
"""Where a test clock may stand: item numbers carry a four-digit year, and deadlines run
up to ten years past "now" (a clock near the year 9999 overflowed the date arithmetic)."""


class ClockBody(BaseModel):
    now: IsoMoment

    @field_validator("now")
    @classmethod
    def _in_range(cls, value: datetime) -> datetime:
        if not CLOCK_RANGE[0] <= value < CLOCK_RANGE[1]:
            raise ValueError("the test clock stands between 1970-01-01 and 2999-12-31 (UTC)")
        return value


class ClockAnswer(BaseModel):
    now: datetime
    frozen: bool


@router.get("/calendar/workdays", response_model=WorkdaysAnswer)
def workdays(
    session: SessionDep,
    _caller: CallerDep,
    from_: Annotated[IsoDate, Query(alias="from")],
    to: IsoDate,
):
    if to < from_ or (to - from_) > timedelta(days=MAX_RANGE_DAYS):
        raise BadRequest(f"'to' must be on or after 'from' and within {MAX_RANGE_DAYS} days.")
    days = load_calendar(session).workdays_between(from_, to)
    return WorkdaysAnswer(workdays=len(days), days=days)


@router.put("/calendar/days/{day}", response_model=DayOverridePublic)
def override_day(day: IsoDate, body: DayOverride, session: SessionDep, _admin: AdminDep):
    row = session.get(CalendarOverride, day) or CalendarOverride(day=day, workday=body.workday)
    row.workday, row.note = body.workday, body.note
    session.add(row)
    session.flush()
    forget_calendar(session)
    return DayOverridePublic(date=day, workday=row.workday, note=row.note)


Year = Annotated[int, FastPath(ge=1900, le=9999)]


@router.put("/calendar/years/{year}", response_model=years.YearPublic)
def put_year(year: Year, body: years.YearSchedule, session: SessionDep, _admin: AdminDep):
    """A year's official schedule (放假调休): its holiday ranges and make-up workdays
    replace that year's overrides."""
    return years.replace_year(session, year, body)


@router.get("/calendar/years/{year}", response_model=years.YearPublic)
def get_year(year: Year, session: SessionDep, _caller: CallerDep):
    return years.year_schedule(session, year)


def _require_test_clock() -> None:
    if not get_settings().test_clock:
        raise NotFound("The test clock is off (set RECTIFY_TEST_CLOCK=1).")


@router.get("/admin/clock", response_model=ClockAnswer, responses=problems(404))
def get_clock(session: SessionDep, _admin: AdminDep):
    _require_test_clock()
    return ClockAnswer(now=now(session), frozen=session.get(TestClock, 1) is not None)


@router.put("/admin/clock", response_model=ClockAnswer, responses=problems(404))
def set_clock(body: ClockBody, session: SessionDep, _admin: AdminDep):
    _require_test_clock()
    moment = body.now.astimezone(UTC)  # stored UTC, rendered UTC "Z" as every time is
    row = session.get(TestClock, 1) or TestClock(id=1, now=moment)
    row.now = moment
    session.add(row)
    session.flush()
    return ClockAnswer(now=moment, frozen=True)


@router.delete("/admin/clock", status_code=204, responses=problems(404))
def reset_clock(session: SessionDep, _admin: AdminDep):
    _require_test_clock()
    row = session.get(TestClock, 1)
    if row is not None:
        session.delete(row)
        session.flush()
    return Response(status_code=204)
