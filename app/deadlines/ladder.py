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

from datetime import datetime
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
from app.items.writer import Change, change
from app.workflow.definition import LadderStep, Workflow

SYSTEM_ACTOR = "system:scheduler"
ESCALATED = "item.escalated"


def fire_due_steps(
    session: Session,
    item: Item,
    wf: Workflow,
    cal: WorkdayCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> list[str]:
    """Fire the highest step due by ``now`` (at most one); return its name, if any."""
    running = running_deadline(item, wf)
    if running is None or is_paused(item, running[0]):
        refresh(item, wf, cal, tz, now)
        return []
    kind, due = running
    times = step_times(wf, kind, due, cal, tz)
    passed = [st for st in times[item.ladder_fired :] if st[1] <= now]
    if not passed:
        refresh(item, wf, cal, tz, now)
        return []
    step, at = passed[-1]
    # The scan flushes its batch of items at once ("later").
    with change(session, item, at=now, write="later") as fired:
        item.ladder_fired += len(passed)
        covered = step.event == ESCALATED and step.level <= item.escalation_level
        raise_level(item, max(s.level for s, _at in passed))
        if any(s.light == "red" for s, _at in passed):
            note_overdue(item, kind)
        item.light = Light(step.light)
        skipped = [s.name for s, _at in passed[:-1]]
        _record(fired, step, kind, due, at, covered, skipped)
        refresh(item, wf, cal, tz, now)
    return [step.name]


def _record(fired: Change, step: LadderStep, kind, due, at, covered: bool, skipped) -> None:
    data = {
        "deadline": kind,
        "due_date": due.isoformat(),
        "step": step.name,
        "level": step.level,
        "scheduled_at": at.isoformat(),
    }
    if skipped:
        data["skipped"] = skipped
    if covered:
        data["note"] = "already escalated to this level by hand; no second notice"
    fired.record(step.name, actor=SYSTEM_ACTOR, data=dict(data))
    if not covered:
        if step.hook:
            data["hook"] = step.hook
        fired.emit(step.event, **data)
