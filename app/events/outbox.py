"""Write events in the caller's transaction; never send anything from here."""

import uuid
from datetime import datetime

from sqlmodel import Session

from app.events.models import Event

SOURCE = "/rectify"


def emit(
    session: Session,
    type_: str,
    *,
    subject: str,
    at: datetime,
    data: dict,
    item_id: int | None = None,
    unit_code: str | None = None,
) -> Event:
    event = Event(
        event_id=f"evt_{uuid.uuid4().hex}",
        type=type_,
        subject=subject,
        item_id=item_id,
        unit_code=unit_code,
        time=at,
        data=data,
    )
    session.add(event)
    return event


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
