"""What a measure change leaves on its item: the item's ``measures_*`` counts, a version
step, an entry in the item's hash chain and an event of the item (``data.item`` and
``data.measure``), so history, webhooks and the feed stay one stream per item.

``record`` is the whole of it for a change flushed through the session (the API, an
importer, the measure scan); ``set_counts`` and ``note_change`` are its two halves, for
callers that keep the measures in memory (a bulk import, the demo's year).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.auth.service import Caller
from app.items.models import Item
from app.items.writer import change
from app.plans.models import Measure, MeasureStatus
from app.plans.reads import measure_json


def refresh_counts(session: Session, item: Item) -> None:
    """The item's ``measures_*`` counts from its measures (one GROUP BY)."""
    rows = session.execute(
        select(col(Measure.status), col(Measure.light), func.count())
        .where(col(Measure.item_id) == item.id)
        .group_by(Measure.status, Measure.light)
    )
    set_counts(item, rows)


def set_counts(item: Item, rows: Iterable) -> None:
    """The item's ``measures_*`` counts from ``(status, light, n)`` rows of its measures."""
    counts = {"open": 0, "done": 0, "ongoing": 0}
    overdue = 0
    for status, light, n in rows:
        counts[status] = counts.get(status, 0) + n
        if status == MeasureStatus.open and light == "red":
            overdue += n
    item.measures_total = sum(counts.values())
    item.measures_open = counts["open"]
    item.measures_done = counts["done"]
    item.measures_ongoing = counts["ongoing"]
    item.measures_overdue = overdue


def record(session: Session, item: Item, measure: Measure, **change) -> None:
    """One measure change on the (locked) item: its counts from the measures as
    flushed, then ``note_change`` (whose keywords ``change`` holds): version, history,
    event."""
    session.flush()
    refresh_counts(session, item)
    note_change(session, item, measure, **change)


def note_change(
    session: Session,
    item: Item,
    measure: Measure,
    *,
    at: datetime,
    by: Caller | str,
    action: str,
    event: str | None,
    comment: str | None = None,
    write: Literal["flush", "later"] = "flush",
    **data,
) -> None:
    """A measure change's version step, history entry and event on the item, whose
    counts are already set; ``write`` as ``writer.change`` takes it. ``by``: the caller,
    named in history and (as item events name a person) in the event's ``actor``; or
    the system's actor name (the scheduler), in history only."""
    with change(session, item, at=at, write=write) as changed:
        entry = {"measure_id": measure.id, "seq": measure.seq, **data}
        actor = by if isinstance(by, str) else by.actor
        changed.record(action, actor=actor, comment=comment, data=entry)
        if event:
            named = {} if isinstance(by, str) else {"actor": by.identity()}
            changed.emit(event, measure=measure_json(measure), **named, **data)


def changed_by(
    session: Session,
    caller: Caller,
    item: Item,
    measure: Measure,
    moment: datetime,
    action_event: tuple[str, str],
    **data,
) -> None:
    """A caller changed ``measure`` at ``moment``: its ``updated_at``, the item's record
    (``action_event``: the history action and the event type)."""
    measure.updated_at = moment
    action, event = action_event
    record(session, item, measure, at=moment, by=caller, action=action, event=event, **data)
