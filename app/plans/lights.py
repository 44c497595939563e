"""A measure's light and next check: like an item's rectify deadline, one step short.

Yellow from 00:00 of the third workday before its due date, red from 00:00 of
the day after it (API.md's day arithmetic); ``none`` without a date or once
the measure is done. ``next_check_at`` is the next moment the light changes,
or the overdue moment while its ``measure.overdue`` is still to be sent for
this due date; NULL once nothing is left to do.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from app.deadlines.calendar import WorkdayCalendar
from app.items.models import Light
from app.plans.models import Measure, MeasureStatus

REMINDER_WORKDAYS = 3


def overdue_at(measure: Measure, cal: WorkdayCalendar, tz: ZoneInfo) -> datetime | None:
    if measure.due_date is None:
        return None
    return cal.step_fires_at(measure.due_date, 0, tz)


def refresh_light(measure: Measure, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime) -> None:
    """Recompute ``light`` and ``next_check_at`` from the clock."""
    if measure.status != MeasureStatus.open or measure.due_date is None:
        measure.light, measure.next_check_at = Light.none, None
        return
    remind = cal.step_fires_at(measure.due_date, -REMINDER_WORKDAYS, tz)
    overdue = cal.step_fires_at(measure.due_date, 0, tz)
    measure.light = Light.red if now >= overdue else Light.yellow if now >= remind else Light.green
    if measure.overdue_notified == measure.due_date:
        measure.next_check_at = None
    else:
        measure.next_check_at = remind if now < remind else overdue


def overdue_due(measure: Measure, now: datetime, cal: WorkdayCalendar, tz: ZoneInfo) -> bool:
    """Is this measure's ``measure.overdue`` due now and not yet sent for its date?"""
    at = overdue_at(measure, cal, tz)
    return (
        measure.status == MeasureStatus.open
        and at is not None
        and at <= now
        and measure.overdue_notified != measure.due_date
    )
