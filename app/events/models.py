from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Event(SQLModel, table=True):
    """One outbox row. ``event_id`` is the CloudEvents id.

    The feed's order: on SQLite ``id`` (one writer, so ids follow commit
    order); on PostgreSQL ``(txid, id)``, where ``txid`` is the writing
    transaction's id (a column default, ``pg_current_xact_id()``), served only
    once every older transaction has ended (``app/events/feed.py``).
    """

    __table_args__ = (
        # SQLite leaves txid NULL: its partial index stays empty and costs no write.
        Index("ix_event_feed", "txid", "id", sqlite_where=text("txid IS NOT NULL")),
    )

    id: int = Field(default=None, primary_key=True)  # None only until the first flush
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
    txid: int | None = Field(default=None, sa_type=BigInteger)
