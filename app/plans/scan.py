"""The measures' part of the deadline scan: lights, and ``measure.overdue`` once per date.

Indexed like the items' scan (``next_check_at <= now``). Locks are taken in
the same order as every measure change (item first, then its measures), so a
scan never deadlocks with a request: due measures are found without a lock,
their items locked in id order, and each measure re-read and re-checked
under its item's lock (a parallel scan that got there first left nothing).
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.clock import now
from app.db import unit_of_work
from app.deadlines.store import load_calendar
from app.items.models import Item, Light
from app.plans.lights import overdue_due, refresh_light
from app.plans.models import Measure
from app.plans.recording import record
from app.settings import get_settings

SYSTEM_ACTOR = "system:scheduler"
BATCH = 500


def scan_measures(engine: Engine | None = None, batch: int = BATCH) -> dict[str, int]:
    """Refresh every due measure, a batch per transaction;
    {"checked": n, "measure.overdue": fired}."""
    checked = fired = 0
    while True:
        with unit_of_work(engine=engine) as session:
            found, sent = check_due(session, now(session), batch)
        checked, fired = checked + found, fired + sent
        if found < batch:
            return {"checked": checked, "measure.overdue": fired}


def check_due(session: Session, moment: datetime, limit: int | None = None) -> tuple[int, int]:
    """Check up to ``limit`` measures due by ``moment``: (checked, overdue notices sent)."""
    due = session.execute(
        select(col(Measure.id), col(Measure.item_id))
        .where(col(Measure.next_check_at) <= moment)
        .order_by(col(Measure.next_check_at), col(Measure.id))
        .limit(limit)
    ).all()
    by_item: dict[int, list[int]] = defaultdict(list)
    for measure_id, item_id in due:
        by_item[item_id].append(measure_id)
    fired = sum(check_item(session, i, by_item[i], moment) for i in sorted(by_item))
    return len(due), fired


def check_item(session: Session, item_id: int, measure_ids: list[int], moment: datetime) -> int:
    """Lock the item, then check those of ``measure_ids`` still due: notices sent."""
    item = session.scalars(
        select(Item)
        .where(col(Item.id) == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    measures = session.scalars(
        select(Measure)
        .where(col(Measure.id).in_(measure_ids), col(Measure.next_check_at) <= moment)
        .order_by(col(Measure.seq))
        .with_for_update()
    ).all()
    if item is None or not measures:
        return 0
    cal, tz = load_calendar(session), get_settings().tz
    final = item.closed_at is not None
    fired = 0
    for measure in measures:
        if final:  # a closed item's measures are no longer chased
            measure.light, measure.next_check_at = Light.none, None
            continue
        notify = overdue_due(measure, moment, cal, tz)
        if notify:
            measure.overdue_notified = measure.due_date
        refresh_light(measure, cal, tz, moment)
        if notify:
            assert measure.due_date is not None  # only a dated measure falls overdue
            fired += 1
            record(
                session,
                item,
                measure,
                at=moment,
                by=SYSTEM_ACTOR,
                action="measure_overdue",
                event="measure.overdue",
                due_date=measure.due_date.isoformat(),
            )
    session.flush()
    return fired
