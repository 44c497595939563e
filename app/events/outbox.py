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

import os
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlmodel import Session

from app.db import JsonText, table_of
from app.events.models import Event
from app.kit import cloudevents
from app.kit.executemany import FastInsert

_QUEUED = "outbox_rows"
QUEUE_LIMIT = 500

# Driver-level executemany: no SQLAlchemy parameter processing per row (an import
# queues 500 rows at a time), the same values written.
_INSERT = FastInsert(table_of(Event))


_VARIANT = {f"{n:x}": f"{n & 0x3 | 0x8:x}" for n in range(16)}
"""A hex digit with its top two bits set to RFC 4122's variant (``10``)."""


def event_ids(n: int) -> list[str]:
    """``n`` event ids: ``evt_`` and a random UUID4's hex, the version and variant set as
    ``uuid.UUID(version=4)`` sets them (digit 13 is the version, 4; digit 17 carries
    the variant), from one read of the system's random bytes for all of them."""
    raw = os.urandom(16 * n).hex()
    return [
        f"evt_{raw[i : i + 12]}4{raw[i + 13 : i + 16]}{_VARIANT[raw[i + 16]]}{raw[i + 17 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


_IDS: list[str] = []
"""Event ids made ahead, ``IDS_AHEAD`` at a time: a bulk import or the demo emits
thousands of events, and a system call and a ``UUID`` per id cost more than the rest
of queueing one. Taken by any thread (``list.pop`` is atomic); a forked child drops
its parent's, so no two processes hand out the same."""
IDS_AHEAD = 256
os.register_at_fork(after_in_child=_IDS.clear)


def _event_id() -> str:
    while True:
        try:
            return _IDS.pop()
        except IndexError:
            _IDS.extend(event_ids(IDS_AHEAD))


def emit(
    session: Session,
    type_: str,
    *,
    subject: str,
    at: datetime,
    data: dict | JsonText,
    item_id: int | None = None,
    unit_code: str | None = None,
    co_unit_codes: list[str] | None = None,
) -> None:
    """Queue one outbox row; it is written with the transaction, or not at all.
    ``unit_code`` and ``co_unit_codes``: the item's lead and co-units, for fan-out.
    ``data``: a dict, or its JSON text made already (an item's events)."""
    queue = session.info.get(_QUEUED)
    if queue is None:  # the transaction's first row (a queue is dropped when it ends)
        session.connection()  # the row belongs to a transaction: begin one if none is open
        queue = session.info[_QUEUED] = []
    queue.append(
        {
            "event_id": _event_id(),
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
