"""Co-units and measures: rows of their own, every change recorded on the item."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, stored_as_string
from app.items.models import Light

MEASURE_EVENTS = frozenset(
    {
        "measure.created",
        "measure.updated",
        "measure.progress",
        "measure.completed",
        "measure.reopened",
        "measure.overdue",
    }
)
"""The events of measures: written by the service and the deadline scan, not by a
workflow's transitions; a webhook subscribes to them by name like to an item's."""


class MeasureKind(StrEnum):
    immediate = "immediate"  # 立行立改
    deadline = "deadline"  # 限期整改
    long_term = "long_term"  # 长期坚持


class MeasureStatus(StrEnum):
    open = "open"  # 未完成
    done = "done"  # 已完成
    ongoing = "ongoing"  # 长期坚持


class ItemCoUnit(SQLModel, table=True):
    """One co-unit (配合单位) of an item: the indexable form of ``Item.co_unit_codes``,
    so "items whose lead or a co-unit lies in this subtree" is an index lookup."""

    __tablename__ = "item_co_unit"
    __table_args__ = (Index("ix_item_co_unit_unit", "unit_code", "item_id"),)
    item_id: int = Field(foreign_key="item.id", primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)


class Measure(SQLModel, table=True):
    """A rectification measure (整改措施) of an item, with its own unit and deadline.

    ``next_check_at`` is when the deadline scan should look at it next (its
    reminder or overdue moment); ``overdue_notified`` is the due date whose
    ``measure.overdue`` was sent, so a moved date re-arms the notice.
    """

    __table_args__ = (
        UniqueConstraint("item_id", "seq"),
        Index("ix_measure_next_check", "next_check_at", "id"),
    )
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    item_id: int = Field(foreign_key="item.id")
    seq: int
    title: str = Field(max_length=500)
    unit_code: str = Field(foreign_key="unit.code", max_length=64, index=True)
    kind: MeasureKind = Field(sa_type=stored_as_string(20))
    due_date: date | None = None
    status: MeasureStatus = Field(default=MeasureStatus.open, sa_type=stored_as_string(20))
    light: Light = Field(default=Light.none, sa_type=stored_as_string(10))
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    latest_progress: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overdue_notified: date | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class MeasureProgress(SQLModel, table=True):
    """A progress report (阶段性进展) on a measure."""

    __tablename__ = "measure_progress"
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    measure_id: int = Field(foreign_key="measure.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=250)
    comment: str = Field(sa_type=Text)
    percent: int | None = None
