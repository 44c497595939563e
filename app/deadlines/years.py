"""A year's official schedule (放假调休) in one step.

The State Council publishes next year's holidays and make-up workdays each
autumn, often before the calendar package knows them. Loading the notice
replaces that year's overrides: every day of a holiday range is a rest day
(its note the holiday's name), every listed make-up day a workday. A year
with overrides is no longer a fallback year: its other days follow
Monday-Friday without a warning.
"""

from datetime import date, timedelta

import chinese_calendar
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import delete, select
from sqlmodel import Session, col

from app.deadlines.calendar import has_statutory_data
from app.deadlines.models import CalendarOverride
from app.deadlines.store import forget_calendar
from app.errors import field_error
from app.kit.dates import IsoDate

MAKE_UP_NOTE = "调休上班"
_ONE_DAY = timedelta(days=1)


class HolidayRange(BaseModel):
    from_: IsoDate = Field(alias="from")
    to: IsoDate
    name: str = Field(min_length=1, max_length=100)
    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _ordered(self) -> "HolidayRange":
        if self.to < self.from_:
            raise ValueError("'to' must be on or after 'from'")
        return self


class YearSchedule(BaseModel):
    model_config = {"extra": "forbid"}
    holidays: list[HolidayRange] = Field(default_factory=list, max_length=40)
    workdays: list[date] = Field(default_factory=list, max_length=40)


class YearPublic(BaseModel):
    year: int
    source: str
    """``overrides`` (loaded or set by an admin), ``package`` (the calendar package's
    data) or ``fallback`` (neither: Monday-Friday)."""
    holidays: list[HolidayRange]
    workdays: list[date]


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def replace_year(session: Session, year: int, schedule: YearSchedule) -> YearPublic:
    first, last = _year_bounds(year)
    days: dict[date, tuple[bool, str]] = {}
    for index, holiday in enumerate(schedule.holidays):
        if holiday.from_ < first or holiday.to > last:
            raise field_error(f"holidays[{index}]", f"the range must lie within {year}")
        for ordinal in range(holiday.from_.toordinal(), holiday.to.toordinal() + 1):
            days[date.fromordinal(ordinal)] = (False, holiday.name)  # (to 9999-12-31)
    for index, day in enumerate(schedule.workdays):
        if not first <= day <= last:
            raise field_error(f"workdays[{index}]", f"{day} is not in {year}")
        if day in days:
            raise field_error(f"workdays[{index}]", f"{day} is also inside a holiday range")
        days[day] = (True, MAKE_UP_NOTE)
    session.execute(
        delete(CalendarOverride).where(
            col(CalendarOverride.day) >= first, col(CalendarOverride.day) <= last
        )
    )
    session.add_all(
        CalendarOverride(day=day, workday=workday, note=note)
        for day, (workday, note) in sorted(days.items())
    )
    session.flush()
    forget_calendar(session)
    return year_schedule(session, year)


def _ranges(days: list[tuple[date, str]]) -> list[HolidayRange]:
    """Consecutive rest days with one name as ranges."""
    ranges: list[HolidayRange] = []
    for day, name in sorted(days):
        last = ranges[-1] if ranges else None
        if last is not None and last.name == name and last.to + _ONE_DAY == day:
            last.to = day
        else:
            ranges.append(HolidayRange(from_=day, to=day, name=name))
    return ranges


def year_schedule(session: Session, year: int) -> YearPublic:
    """The year as the calendar counts it: the package's holidays and make-up workdays
    (when it has the year), with the overrides on top (an override wins, as in
    ``WorkdayCalendar``). ``source``: ``overrides`` once an admin set any day of it."""
    first, last = _year_bounds(year)
    rows = session.execute(
        select(col(CalendarOverride.day), col(CalendarOverride.workday), col(CalendarOverride.note))
        .where(col(CalendarOverride.day) >= first, col(CalendarOverride.day) <= last)
        .order_by(col(CalendarOverride.day))
    ).all()
    packaged = has_statutory_data(year)
    holidays: dict[date, str] = {}
    workdays: set[date] = set()
    day = first
    while packaged and day <= last:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
        if is_holiday and name:
            holidays[day] = _HOLIDAY_NAMES.get(name, name)
        elif not is_holiday and day.weekday() >= 5:
            workdays.add(day)
        day += _ONE_DAY
    for row in rows:
        if row.workday:
            holidays.pop(row.day, None)
            if row.day.weekday() >= 5:
                workdays.add(row.day)
        else:
            workdays.discard(row.day)
            holidays[row.day] = row.note or "休息日"
    source = "overrides" if rows else "package" if packaged else "fallback"
    return YearPublic(
        year=year,
        source=source,
        holidays=_ranges(list(holidays.items())),
        workdays=sorted(workdays),
    )


_HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
