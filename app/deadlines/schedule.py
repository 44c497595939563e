"""Deadline state of one item: which deadline runs, its light, its next check.

The ladder is armed per deadline (``ladder_deadline`` = "accept:2026-10-10" or
"rectify:2026-12-31"); ``ladder_fired`` counts the steps already fired for it.
A new deadline (assign, accept, extension, reassign, reopen) re-arms the
ladder; leaving the deadline's state stops it (``next_check_at`` = NULL).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.deadlines.calendar import WorkdayCalendar
from app.errors import field_error
from app.workflow.definition import LadderStep, Workflow

MAX_DUE_DAYS = 3660


def validate_due_date(due: date, today: date) -> None:
    """A due date is today or later, and at most about ten years ahead."""
    if due < today:
        raise field_error("due_date", f"The due date {due} is in the past (today is {today}).")
    if (due - today).days > MAX_DUE_DAYS:
        raise field_error("due_date", f"The due date {due} is more than ten years ahead.")


def running_deadline(item, wf: Workflow) -> tuple[str, date] | None:
    kind = wf.state(item.state).deadline
    due = {"accept": item.accept_due_date, "rectify": item.due_date}.get(kind or "")
    return (kind, due) if kind and due else None


def step_times(
    wf: Workflow, due: date, cal: WorkdayCalendar, tz: ZoneInfo
) -> list[tuple[LadderStep, datetime]]:
    return [(step, cal.step_fires_at(due, step.offset, tz)) for step in wf.ladder]


def rearm(item, wf: Workflow, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime) -> None:
    """Arm the ladder for the running deadline if it changed, then refresh."""
    running = running_deadline(item, wf)
    key = f"{running[0]}:{running[1].isoformat()}" if running else None
    if key != item.ladder_deadline:
        item.ladder_deadline = key
        item.ladder_fired = 0
        if key is not None:
            item.escalation_level = 0
    refresh(item, wf, cal, tz, now)


def refresh(item, wf: Workflow, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime) -> None:
    """Recompute ``light`` and ``next_check_at`` from the clock and the fired steps."""
    running = running_deadline(item, wf)
    if running is None:
        item.light = "none"
        item.next_check_at = None
        return
    times = step_times(wf, running[1], cal, tz)
    light = "green"
    for step, at in times:
        if at <= now:
            light = step.light
    item.light = light
    pending = times[item.ladder_fired :]
    item.next_check_at = pending[0][1] if pending else None
