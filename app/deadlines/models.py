from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, stored_as_string


class ExtensionStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class CalendarOverride(SQLModel, table=True):
    """An admin's word on one day (workday or not); it wins over statutory data."""

    __tablename__ = "calendar_override"
    day: date = Field(primary_key=True)
    workday: bool
    note: str | None = Field(default=None, max_length=200)


class Extension(SQLModel, table=True):
    """A unit's request to move its rectification deadline (延期申请)."""

    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    item_id: int = Field(foreign_key="item.id", index=True)
    due_date: date
    previous_due_date: date | None = None
    reason: str = Field(sa_type=Text)
    status: ExtensionStatus = Field(default=ExtensionStatus.pending, sa_type=stored_as_string(20))
    requested_by: str = Field(max_length=250)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=250)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_comment: str | None = Field(default=None, sa_type=Text)
