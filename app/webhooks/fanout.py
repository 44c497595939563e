"""Fan-out: committed outbox rows become one delivery per matching subscription.

A subscription matches an event by type (or ``*``) and, when it is scoped to
a unit, by the event's lead or one of its co-units (as they were when it
happened) lying in that unit's subtree (``app.items.scope.covers``). Fan-out runs one
worker at a time (an advisory lock on PostgreSQL, the write lock on SQLite),
so deliveries are created in event order and an item's order holds. It reads
committed rows by id: ids are taken when a transaction writes its events,
just before it commits and after it locked its item, so one item's events
have ids in commit order even though, on PostgreSQL, no lock orders the
writers (a lower id may commit later; it is picked up by a later round, as
the ``dispatched`` flag, not a cursor, tracks what is done).
"""

from sqlalchemy import func, insert, select, update
from sqlmodel import Session, col

from app.clock import real_now
from app.db import is_postgres
from app.events import hooks
from app.events.models import Event
from app.events.outbox import envelope
from app.items.scope import covers
from app.kit.scope import unit_path_or_none
from app.locks import FAN_OUT_LOCK
from app.units.models import Unit
from app.units.service import subtree_codes
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

PENDING = DeliveryStatus.pending.value
D = WebhookDelivery
Sub = WebhookSubscription


def _matches(sub: Sub, event: Event, scopes: dict[int, set[str]]) -> bool:
    if "*" not in sub.events and event.type not in sub.events:
        return False
    return sub.unit_code is None or covers(scopes[sub.id], event.unit_code, event.co_unit_codes)


def fan_out(session: Session, limit: int = 500) -> int:
    """Turn up to ``limit`` committed outbox rows into deliveries; returns rows claimed.

    In-process hooks get the events once this session commits.
    """
    if is_postgres(session) and not session.scalar(
        select(func.pg_try_advisory_xact_lock(FAN_OUT_LOCK))
    ):
        return 0
    events = list(
        session.scalars(
            select(Event)
            .where(col(Event.dispatched).is_(False))
            .order_by(col(Event.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not events:
        return 0
    subs = list(
        session.scalars(select(Sub).where(col(Sub.enabled).is_(True)).order_by(col(Sub.id)))
    )
    scopes = {}
    for sub in subs:
        if sub.unit_code is not None:
            path = session.scalar(select(col(Unit.path)).where(col(Unit.code) == sub.unit_code))
            scopes[sub.id] = set(session.scalars(subtree_codes(unit_path_or_none(path))))
    moment = real_now()
    rows = [
        {
            "subscription_id": sub.id,
            "event_row_id": event.id,
            "event_id": event.event_id,
            "event_type": event.type,
            "item_id": event.item_id,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": moment,
            "created_at": moment,
        }
        for event in events
        for sub in subs
        if _matches(sub, event, scopes)
    ]
    if rows:
        session.execute(insert(D), rows)
    session.execute(
        update(Event)
        .where(col(Event.id).in_([e.id for e in events]))
        .values(dispatched=True)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    hooks.after_commit(session, [e for e in map(envelope, events) if hooks.wanted(e)])
    return len(events)
