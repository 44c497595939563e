"""Write events in the caller's transaction; never send anything from here."""

import uuid
from datetime import datetime

from sqlalchemy import insert, text
from sqlmodel import Session

from app.events.models import Event

SOURCE = "/rectify"


FEED_LOCK = 7_362_001


def _serialize_feed(session: Session) -> None:
    """Make event ids follow commit order, so a poller's cursor never skips one.

    On PostgreSQL a transaction-scoped advisory lock is taken before the first
    event row; it is held until commit, so ids are handed out in commit order.
    (SQLite's single writer already guarantees that.)
    """
    if session.info.get("feed_locked") or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK})
    session.info["feed_locked"] = True


_INSERT = insert(Event.__table__)


def emit(
    session: Session,
    type_: str,
    *,
    subject: str,
    at: datetime,
    data: dict,
    item_id: int | None = None,
    unit_code: str | None = None,
) -> None:
    """Insert one outbox row now, in the caller's transaction (Core: every
    transition writes events, and ORM objects would only be built to be flushed)."""
    _serialize_feed(session)
    session.connection().execute(
        _INSERT,
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "type": type_,
            "subject": subject,
            "item_id": item_id,
            "unit_code": unit_code,
            "time": at,
            "data": data,
            "dispatched": False,
        },
    )


def envelope(event: Event) -> dict:
    """The CloudEvents 1.0 JSON form of an outbox row."""
    return {
        "specversion": "1.0",
        "id": event.event_id,
        "source": SOURCE,
        "type": event.type,
        "time": event.time.isoformat().replace("+00:00", "Z"),
        "subject": event.subject,
        "datacontenttype": "application/json",
        "data": event.data,
    }
