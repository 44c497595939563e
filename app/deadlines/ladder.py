"""Fire the escalation ladder of one (locked) item.

Every step fires at most once per deadline: ``ladder_fired`` counts the steps
already fired for ``ladder_deadline`` and is advanced in the same
transaction as the step's history entry and outbox event. Steps that came
due while no scan ran are fired in order, none skipped.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.schedule import refresh, running_deadline, step_times
from app.items import history
from app.items.models import Item
from app.items.service import emit_item_event
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
    """Fire the steps due by ``now``; return their names."""
    running = running_deadline(item, wf)
    fired: list[str] = []
    if running is None:
        refresh(item, wf, cal, tz, now)
        return fired
    kind, due = running
    times = step_times(wf, due, cal, tz)
    while item.ladder_fired < len(times) and times[item.ladder_fired][1] <= now:
        step, at = times[item.ladder_fired]
        if not fired:
            item.version += 1
            item.updated_at = now
        item.ladder_fired += 1
        covered = step.event == ESCALATED and step.level <= item.escalation_level
        item.escalation_level = max(item.escalation_level, step.level)
        item.light = step.light
        _record(session, item, step, kind, due, at, now, covered)
        fired.append(step.name)
    refresh(item, wf, cal, tz, now)
    return fired


def _record(session, item, step: LadderStep, kind, due, at, now, covered: bool) -> None:
    data = {
        "deadline": kind,
        "due_date": due.isoformat(),
        "step": step.name,
        "level": step.level,
        "scheduled_at": at.isoformat(),
    }
    if covered:
        data["note"] = "already escalated to this level by hand; no second notice"
    history.note(session, item, at=now, actor=SYSTEM_ACTOR, action=step.name, data=data)
    if not covered:
        if step.hook:
            data["hook"] = step.hook
        emit_item_event(session, step.event, item, now, **data)
