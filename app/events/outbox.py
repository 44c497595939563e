"""Write events in the caller's transaction; never send anything from here.

``emit`` queues a row on the session; the transaction's rows are inserted in
one statement just before it commits (``write_queued``), or when a writer
sends its statements together (``items.writer``, a transition). A transaction that
emits more than ``QUEUE_LIMIT`` rows (an import, a scan batch) writes them as
it goes, so memory stays bounded.

No lock orders the writers: on PostgreSQL each row records its transaction's
id (the ``txid`` column's default) and the feed serves a row only once every
older transaction has ended (``app/events/feed.py``); SQLite has one writer.
"""

import uuid
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlmodel import Session

from app.db import table_of
from app.events.models import Event
from app.kit import cloudevents
from app.kit.executemany import FastInsert

_QUEUED = "outbox_rows"
QUEUE_LIMIT = 500

# Driver-level executemany: no SQLAlchemy parameter processing per row (an import
# queues 500 rows at a time), the same values written.
_INSERT = FastInsert(table_of(Event))


def emit(
    session: Session,
    type_: str,
    *,
    subject: str,
    at: datetime,
    data: dict,
    item_id: int | None = None,
    unit_code: str | None = None,
    co_unit_codes: list[str] | None = None,
) -> None:
    """Queue one outbox row; it is written with the transaction, or not at all.
    ``unit_code`` and ``co_unit_codes``: the item's lead and co-units, for fan-out."""
    queue = session.info.get(_QUEUED)
    if queue is None:  # the transaction's first row (a queue is dropped when it ends)
        session.connection()  # the row belongs to a transaction: begin one if none is open
        queue = session.info[_QUEUED] = []
    queue.append(
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "type": type_,
            "subject": subject,
            "item_id": item_id,
            "unit_code": unit_code,
            "co_unit_codes": co_unit_codes or None,
            "time": at,
            "data": data,
            "dispatched": False,
        }
    )
    if len(queue) >= QUEUE_LIMIT:
        write_queued(session)


@sa_event.listens_for(Session, "before_commit")
def write_queued(session: Session) -> None:
    """Insert the rows queued so far (before every commit; earlier by a writer that
    sends its statements together, ``items.writer``)."""
    rows = session.info.pop(_QUEUED, None)
    if not rows:
        return
    _INSERT.execute(session, rows)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_queued(session: Session, previous_transaction) -> None:
    """Any rollback of the session's transaction drops its queued rows (the app
    takes no savepoints), whether or not the database saw the transaction fail."""
    if previous_transaction.parent is None:
        session.info.pop(_QUEUED, None)


def envelope(event: Event) -> dict:
    """The CloudEvents 1.0 JSON form of an outbox row."""
    return cloudevents.envelope(event.event_id, event.type, event.time, event.subject, event.data)
