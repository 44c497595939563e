"""The event feed for polling clients: commit order, keyset cursor, unit scope."""

import base64
import binascii

from sqlalchemy import func, select
from sqlmodel import Session

from app.auth.service import Caller
from app.errors import BadRequest
from app.events.models import Event
from app.events.outbox import envelope
from app.units.service import subtree_codes


def encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int:
    """The id inside a cursor made by ``encode_cursor(kind, ...)``; 400 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, value = raw.partition(":")
        if found != kind or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid; pass back a next_cursor unchanged.") from None


def list_events(
    session: Session,
    caller: Caller,
    after: str | None,
    types: list[str],
    subject: str | None,
    limit: int,
) -> tuple[list[dict], str]:
    """Events after the cursor, oldest first, and the cursor to pass next time.

    When the page is not full, the cursor moves past every event that existed
    when the call began, matching or not: a later call returns only newer ones.
    The high-water mark is read before the page so the page sees all it covers.
    """
    last_seen = decode_cursor("e", after) if after else 0
    high_water = session.scalar(select(func.max(Event.id))) or 0
    stmt = select(Event).where(Event.id > last_seen)
    if types:
        stmt = stmt.where(Event.type.in_(types))
    if subject:
        stmt = stmt.where(Event.subject == subject)
    if caller.scoped:
        stmt = stmt.where(Event.unit_code.in_(subtree_codes(caller.unit_path or "/-none-/")))
    rows = list(session.scalars(stmt.order_by(Event.id).limit(limit + 1)))
    page = rows[:limit]
    if len(rows) > limit:
        position = page[-1].id
    else:
        position = max([last_seen, high_water] + [e.id for e in page])
    return [envelope(e) for e in page], encode_cursor("e", position)
