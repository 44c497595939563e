"""The event feed for polling clients: commit order, keyset cursor, unit scope.

SQLite has one writer, so event ids follow commit order and the cursor is an
id. PostgreSQL writers take no lock: an id taken by a transaction that is
still running may be lower than one already committed. There the feed orders
by ``(txid, id)`` -- the writing transaction's id, then the row's -- and
serves only rows whose transaction is below a *gate*: the oldest transaction
id still running in this database (``pg_stat_activity.backend_xid``), or the
next unassigned one if none is (``pg_snapshot_xmax(pg_current_snapshot())``).
The gate is read in a statement before the page's, so every transaction below
it has ended and is visible to the page; every one that commits later has a
txid at or above it (running ones are at or above it, and ones yet to write
get a newer id), so a cursor never passes an event that has yet to commit.
This is ``pg_snapshot_xmin`` restricted to this database: transactions in
other databases of the cluster do not hold the feed back. A write transaction
of this database does, until it ends (keep them short).

Transactions that touch the same item are served in the order they
committed: the item's row lock is taken before anything is written, and a
transaction gets its id by writing, so the one that waited has the higher
txid.
"""

from typing import Any

from sqlalchemy import func, select, text, tuple_
from sqlmodel import Session, col

from app.auth.service import Caller
from app.db import MAX_ID, is_postgres
from app.errors import BadRequest
from app.events.models import Event
from app.events.outbox import envelope
from app.items.scope import caller_codes, visible_item_ids
from app.kit import cursors

# The gate (see above). The snapshot's xmax is taken when the statement starts,
# the backends' xids are read after it; backend_xid is 32 bits, widened against
# that xmax (a running xid is less than 2^31 behind it). pg_stat_activity is
# cached per transaction: the cache is dropped first.
_CLEAR_STAT_CACHE = text("SELECT pg_stat_clear_snapshot()")
_GATE = text(
    """
    SELECT least(s.next, min(s.next - ((s.next % 4294967296)
                 - a.backend_xid::text::bigint + 4294967296) % 4294967296))
    FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next) s
    LEFT JOIN pg_stat_activity a
      ON a.datname = current_database() AND a.backend_xid IS NOT NULL
    GROUP BY s.next
    """
)


def feed_gate(session: Session) -> int:
    """Every event-writing transaction of this database with a txid below this has ended."""
    session.execute(_CLEAR_STAT_CACHE)
    return session.scalar(_GATE)


MAX_TXID = 2**63 - 1


def _decode_position(cursor: str) -> tuple[int, int]:
    """``(txid, id)`` from a feed cursor: ``t:<txid>.<id>`` (PostgreSQL) or ``e:<id>``
    (SQLite, and PostgreSQL cursors from before txid: their rows have txid 0)."""
    kind, value = cursors.decode_raw(cursor)
    if kind == "e" and value.isdigit() and int(value) <= MAX_ID:
        return 0, int(value)
    txid, _, id_ = value.partition(".")
    if kind != "t" or not txid.isdigit() or not id_.isdigit():
        raise BadRequest(cursors.BAD_CURSOR)
    if int(txid) > MAX_TXID or int(id_) > MAX_ID:
        raise BadRequest(cursors.BAD_CURSOR)
    return int(txid), int(id_)


def list_events(
    session: Session,
    caller: Caller,
    after: str | None,
    types: list[str],
    subject: str | None,
    limit: int,
) -> tuple[list[dict], str]:
    """Events after the cursor, oldest first, and the cursor to pass next time.

    When the page is not full, the cursor moves past every event that could be
    served when the call began, matching or not: a later call returns only
    newer ones. The high-water mark is read before the page so the page sees
    all it covers.
    """
    last_txid, last_id = _decode_position(after) if after else (0, 0)
    postgres = is_postgres(session)
    if postgres:
        gate = feed_gate(session)
        high = session.execute(
            select(col(Event.txid), col(Event.id))
            .where(col(Event.txid) < gate)
            .order_by(col(Event.txid).desc(), col(Event.id).desc())
            .limit(1)
        ).first()
        high_water = tuple(high) if high else (0, 0)
        stmt = select(Event).where(
            col(Event.txid) < gate,
            tuple_(col(Event.txid), col(Event.id)) > tuple_(last_txid, last_id),
        )
        order: tuple[Any, ...] = (col(Event.txid), col(Event.id))
    else:
        high_water = (0, session.scalar(select(func.max(col(Event.id)))) or 0)
        stmt = select(Event).where(col(Event.id) > last_id)
        order = (col(Event.id),)
    if types:
        stmt = stmt.where(col(Event.type).in_(types))
    if subject:
        stmt = stmt.where(col(Event.subject) == subject)
    if caller_codes(caller) is not None:  # the events of the items it sees
        stmt = stmt.where(col(Event.item_id).in_(visible_item_ids(caller)))
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    page = rows[:limit]
    key = (lambda e: (e.txid, e.id)) if postgres else (lambda e: (0, e.id))
    if len(rows) > limit:
        position = key(page[-1])
    else:
        position = max([(last_txid, last_id), high_water] + [key(e) for e in page])
    if postgres:
        cursor = cursors.encode("t", f"{position[0]}.{position[1]}")
    else:
        cursor = cursors.encode("e", position[1])
    return [envelope(e) for e in page], cursor
