"""Deadline state of one item: which deadline runs, its light, its next check.

The ladder is armed per deadline (``ladder_deadline`` = "accept:2026-10-10" or
"rectify:2026-12-31"); ``ladder_fired`` counts the steps already fired for it.
A new deadline (assign, accept, extension, reassign, reopen) re-arms the
ladder; leaving the deadline's state stops it (``next_check_at`` = NULL).
While a closure request is under review (``review_pending``) the rectify
deadline is paused: light ``paused``, no check scheduled, the ladder keeps
its place (a due-date shift on ``reject`` moves the deadline, not the ladder).

The honest record (``max_escalation_level``, ``was_overdue``,
``rectify_was_overdue``) only ever grows; ``note_overdue`` and ``raise_level``
are the two ways it does.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.deadlines.calendar import WorkdayCalendar, deadline_end_utc
from app.errors import field_error
from app.workflow.definition import LadderStep, Workflow

MAX_DUE_DAYS = 3660
PAUSED = "paused"


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


def is_paused(item, kind: str) -> bool:
    """The rectify deadline stands still while a closure request is under review."""
    return kind == "rectify" and bool(item.review_pending)


def deadline_key(kind: str, due: date) -> str:
    return f"{kind}:{due.isoformat()}"


_TIMES: dict = {}
_TIMES_MAX = 4096


def step_times(
    wf: Workflow, kind: str, due: date, cal: WorkdayCalendar, tz: ZoneInfo
) -> list[tuple[LadderStep, datetime]]:
    """When each step of the deadline's ladder fires (read-only: shared).

    Every transition and every scanned item asks; the answer depends only on the
    arguments (a calendar is never changed, and the one built from the same
    overrides is reused across requests), so it is kept, keyed on the workflow and
    calendar objects themselves (held, so their ids cannot be reused)."""
    key = (id(wf), id(cal), kind, due, tz)
    hit = _TIMES.get(key)
    if hit is not None and hit[0] is wf and hit[1] is cal:
        return hit[2]
    times = [(step, cal.step_fires_at(due, step.offset, tz)) for step in wf.ladder_for(kind)]
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    _TIMES[key] = (wf, cal, times)
    return times


def note_overdue(item, kind: str) -> None:
    """Record, for good, that a deadline of the item went red."""
    item.was_overdue = True
    if kind == "rectify":
        item.rectify_was_overdue = True


def raise_level(item, level: int) -> None:
    item.escalation_level = max(item.escalation_level, level)
    item.max_escalation_level = max(item.max_escalation_level or 0, item.escalation_level)


def note_if_past_due(item, wf: Workflow, tz: ZoneInfo, now: datetime) -> None:
    """Before a change that may end or move the running deadline: if it has
    already ended unmet (and is not paused), the record says so, whether or
    not a scan noticed it yet."""
    running = running_deadline(item, wf)
    if running and not is_paused(item, running[0]) and deadline_end_utc(running[1], tz) <= now:
        note_overdue(item, running[0])


def rearm(item, wf: Workflow, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime) -> None:
    """Arm the ladder for the running deadline if it changed, then refresh."""
    running = running_deadline(item, wf)
    key = deadline_key(*running) if running else None
    if key != item.ladder_deadline:
        item.ladder_deadline = key
        item.ladder_fired = 0
        if key is not None:
            item.escalation_level = 0
    refresh(item, wf, cal, tz, now)


def refresh(
    item, wf: Workflow, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime, times=None
) -> None:
    """Recompute ``light`` and ``next_check_at`` from the clock and the fired steps
    (``times``: optional, computes ``step_times``, as for ``ladder.advance``)."""
    running = running_deadline(item, wf)
    if running is None:
        item.light = "none"
        item.next_check_at = None
        return
    kind, due = running
    if is_paused(item, kind):
        item.light = PAUSED
        item.next_check_at = None
        return
    times = (times or step_times)(wf, kind, due, cal, tz)
    light = "green"
    for step, at in times:
        if at <= now:
            light = step.light
    item.light = light
    if light == "red":
        note_overdue(item, kind)
    pending = times[item.ladder_fired :]
    item.next_check_at = pending[0][1] if pending else None


def deadline_dates(item) -> dict:
    """The effective dates an entry that sets a deadline records in its history."""
    return {
        "due_date": item.due_date and item.due_date.isoformat(),
        "accept_due_date": item.accept_due_date and item.accept_due_date.isoformat(),
    }
