from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Event(SQLModel, table=True):
    """One outbox row. ``id`` orders the feed; ``event_id`` is the CloudEvents id."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    type: str = Field(max_length=60, index=True)
    subject: str = Field(max_length=100, index=True)
    item_id: int | None = Field(default=None, index=True)
    unit_code: str | None = Field(default=None, max_length=64)
    co_unit_codes: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The item's lead (``unit_code``) and co-units when the event happened: the
    subscriptions of their subtrees hear it (``app.items.scope``)."""
    time: datetime = Field(sa_type=UTCDateTime)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dispatched: bool = Field(default=False, index=True)
