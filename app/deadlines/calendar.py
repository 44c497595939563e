"""Workday calendar: Chinese statutory holidays, make-up workdays and admin overrides.

Day arithmetic follows the API contract: W(n, d) is the n-th workday after d counting
from the day after d; W(-n, d) is the n-th workday before d counting from the day before.
A deadline on date D ends at 24:00 local time of D (00:00 local of D+1).
"""

from __future__ import annotations

import calendar
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "WorkdayCalendar",
    "deadline_end_utc",
    "fallback_years",
    "local_date",
    "local_midnight_utc",
]

logger = logging.getLogger("rectify.calendar")

_ONE_DAY = timedelta(days=1)
_FALLBACK_YEARS: set[int] = set()
_fallback_lock = threading.Lock()


def fallback_years() -> set[int]:
    """Years answered with the Monday-Friday fallback so far in this process (a copy)."""
    with _fallback_lock:
        return set(_FALLBACK_YEARS)


def _note_fallback(year: int) -> None:
    with _fallback_lock:
        if year in _FALLBACK_YEARS:
            return
        _FALLBACK_YEARS.add(year)
    logger.warning(
        "no statutory holiday data for %d; treating Monday-Friday as workdays "
        "(add admin overrides or upgrade chinesecalendar)",
        year,
    )


@lru_cache(maxsize=256)
def has_statutory_data(year: int) -> bool:
    """Whether the calendar package knows ``year``'s holidays."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=1 << 16)
def _statutory_is_workday(d: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        _note_fallback(d.year)
        return d.weekday() < 5


class WorkdayCalendar:
    """Statutory workday calendar with admin overrides that win over everything."""

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        self._years = {d.year for d in self._overrides}
        """Years with overrides: a loaded schedule (PUT /calendar/years) is data, so
        their other days follow Monday-Friday without the fallback warning."""

    @property
    def overrides(self) -> Mapping[date, bool]:
        """The admin overrides in effect (read-only view)."""
        return dict(self._overrides)

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a workday: override, else statutory data, else Monday-Friday."""
        override = self._overrides.get(d)
        if override is not None:
            return override
        if d.year in self._years and not has_statutory_data(d.year):
            return d.weekday() < 5
        return _statutory_is_workday(d)

    def add_workdays(self, d: date, n: int) -> date:
        """W(n, d): the n-th workday after (n > 0) or before (n < 0) ``d``; ``d`` if n == 0."""
        if n == 0:
            return d
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        current = d
        while remaining:
            current += step
            if self.is_workday(current):
                remaining -= 1
        return current

    def add_months(self, d: date, months: int) -> date:
        """The end of a period of ``months`` calendar months started on ``d``.

        The same day of the month ``months`` later, clamped to that month's last
        day; a period that ends on a rest day ends on the next workday (the
        statutory rule for periods).
        """
        index = d.month - 1 + months
        year, month = d.year + index // 12, index % 12 + 1
        end = date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
        return end if self.is_workday(end) else self.add_workdays(end, 1)

    def period_end(self, start: date, period: int | object) -> date:
        """End of a workflow ``Duration`` started on ``start``: W(n, start) for an int
        of workdays, ``add_months`` for ``{months: n}``."""
        months = getattr(period, "months", None)
        if months is not None:
            return self.add_months(start, months)
        return self.add_workdays(start, int(period))  # type: ignore[arg-type]  # not months: an int of workdays

    def workdays_between(self, start: date, end: date) -> list[date]:
        """Workdays in ``[start, end]``, inclusive; empty when ``end < start``."""
        days = (date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1))
        return [d for d in days if self.is_workday(d)]

    def step_fires_at(self, due: date, offset_workdays: int, tz: ZoneInfo) -> datetime:
        """When a ladder step fires (aware UTC).

        Offset -N fires from 00:00 local of W(-N, due), offset 0 at 00:00 local of
        due + 1 day (the moment the item becomes overdue), +N from 00:00 local of W(N, due).
        """
        if offset_workdays == 0:
            return deadline_end_utc(due, tz)
        return local_midnight_utc(self.add_workdays(due, offset_workdays), tz)


def local_midnight_utc(d: date, tz: ZoneInfo) -> datetime:
    """The first instant of local date ``d`` (00:00 local) as an aware UTC datetime."""
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)


def deadline_end_utc(d: date, tz: ZoneInfo) -> datetime:
    """End of a deadline on ``d``: 24:00 local of ``d``, i.e. 00:00 local of the next day."""
    return local_midnight_utc(d + _ONE_DAY, tz)


def local_date(moment_utc: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of an instant; a naive datetime is taken to be UTC."""
    if moment_utc.tzinfo is None:
        moment_utc = moment_utc.replace(tzinfo=UTC)
    return moment_utc.astimezone(tz).date()
