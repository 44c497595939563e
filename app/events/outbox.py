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
import time
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
    """``n`` event ids: ``evt_`` and the hex of a UUID version 7 (RFC 9562): the Unix
    time in milliseconds, then 74 random bits, the version and variant set as
    ``uuid.UUID`` reads them, from one read of the system's random bytes for all.

    Time first, because the ids go into a unique index: a random id (a UUID4) lands
    on a random leaf of it, so a transaction writing 500 events dirtied ~500 of its
    pages and wrote each out at commit, where ids that grow with time land on its last
    few. Descending, so that ``pop()`` hands them out in ascending order."""
    head = f"{time.time_ns() // 1_000_000:012x}"
    raw = os.urandom(10 * n).hex()
    return sorted(
        (
            f"evt_{head}7{raw[i : i + 3]}{_VARIANT[raw[i + 3]]}{raw[i + 4 : i + 19]}"
            for i in range(0, 20 * n, 20)
        ),
        reverse=True,
    )


_IDS: list[str] = []
"""Event ids made ahead, ``IDS_AHEAD`` at a time: a bulk import or the demo emits
thousands of events, and a system call and a ``UUID`` per id cost more than the rest
of queueing one. Taken by any thread (``list.pop`` is atomic); a forked child drops
its parent's, so no two processes hand out the same. They carry the time they were
made, not the time they are used: close enough for the index, which is all the
order is for (the feed orders by row, never by event id)."""
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
