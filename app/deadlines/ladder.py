"""Fire the escalation ladder of one (locked) item.

Every step fires at most once per deadline: ``ladder_fired`` counts the steps
already passed for ``ladder_deadline`` and is advanced in the same
transaction as the step's history entry and outbox event. When several
steps came due while no scan ran (the service was down, the clock jumped),
only the highest fires; the passed ones are named in its history entry
(``data.skipped``) and send no event, so a unit never gets a stale reminder
beside its overdue notice. A paused deadline (closure request under review)
fires nothing.
"""

from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.schedule import (
    is_paused,
    note_overdue,
    raise_level,
    refresh,
    running_deadline,
    step_times,
)
from app.items.models import Item, Light
from app.items.writer import change
from app.workflow.definition import LadderStep, Workflow

SYSTEM_ACTOR = "system:scheduler"
ESCALATED = "item.escalated"


class Fired(NamedTuple):
    """The step that fires for an item, and what its history entry and event say."""

    step: LadderStep
    data: dict
    """The history entry's ``data``; the event's ``data`` adds the step's ``hook``."""
    covered: bool
    """Already escalated to this level by hand: a history entry, no event."""


def fire_due_steps(
    session: Session,
    item: Item,
    wf: Workflow,
    cal: WorkdayCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> list[str]:
    """Fire the highest step due by ``now`` (at most one); return its name, if any.

    One item, through the item writer (the demo, admin paths); the scan fires a
    batch at a time with the same ``advance`` (``app.deadlines.batch``)."""
    fired = advance(item, wf, cal, tz, now)
    if fired is not None:
        # The row is the caller's to write ("later"): the demo inserts its rows in bulk.
        with change(session, item, at=now, write="later") as changed:
            changed.record(fired.step.name, actor=SYSTEM_ACTOR, data=fired.data)
            data = event_data(fired)
            if data is not None:
                changed.emit(fired.step.event, **data)
    refresh(item, wf, cal, tz, now)
    return [fired.step.name] if fired else []


def advance(item, wf: Workflow, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime, times=None):
    """Move the item past the steps due by ``now`` (not its version, which its writer
    bumps, nor its ``next_check_at``: the caller refreshes after recording): the
    ``Fired`` step, or None when none is due.

    ``item`` is anything with the item's attributes; ``times`` (optional) computes
    ``step_times`` (a batch caches it per deadline)."""
    running = running_deadline(item, wf)
    if running is None or is_paused(item, running[0]):
        return None
    kind, due = running
    times = (times or step_times)(wf, kind, due, cal, tz)
    passed = [st for st in times[item.ladder_fired :] if st[1] <= now]
    if not passed:
        return None
    step, at = passed[-1]
    item.ladder_fired += len(passed)
    # A level reached by hand already sent this level's notice (``escalation.escalate``).
    covered = 0 < step.level <= item.escalation_level
    raise_level(item, max(s.level for s, _at in passed))
    if any(s.light == "red" for s, _at in passed):
        note_overdue(item, kind)
    item.light = Light(step.light)
    data = {
        "deadline": kind,
        "due_date": due.isoformat(),
        "step": step.name,
        "level": step.level,
        "scheduled_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),  # as times are
    }
    skipped = [s.name for s, _at in passed[:-1]]
    if skipped:
        data["skipped"] = skipped
    if covered:
        data["note"] = "already escalated to this level by hand; no second notice"
    return Fired(step, data, covered)


def event_data(fired: Fired) -> dict | None:
    """The event's ``data`` (without the item), or None when no event is sent."""
    if fired.covered:
        return None
    data = dict(fired.data)
    if fired.step.hook:
        data["hook"] = fired.step.hook
    return data
