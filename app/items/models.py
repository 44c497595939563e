from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, stored_as_string


class Source(StrEnum):
    inspection = "inspection"
    audit = "audit"
    assessment = "assessment"
    hotline = "hotline"
    petition = "petition"
    analysis = "analysis"
    talk = "talk"
    other = "other"


class Severity(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    critical = "critical"


class Satisfaction(StrEnum):
    """The caller's answer at the callback (回访)."""

    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    dissatisfied = "dissatisfied"
    unreachable = "unreachable"


SATISFIED = frozenset({Satisfaction.satisfied, Satisfaction.basically_satisfied})
"""The answers the 满意率 counts as satisfied."""


class Light(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"
    paused = "paused"
    none = "none"


class ItemType(StrEnum):
    """工单类型 of hotline orders (the hotline workflow; null elsewhere)."""

    consult = "consult"
    help = "help"
    complaint = "complaint"
    report = "report"
    suggestion = "suggestion"


class Item(SQLModel, table=True):
    __table_args__ = (
        Index("ix_item_unit_state", "unit_code", "state", "id"),
        Index("ix_item_unit_id", "unit_code", "id"),  # a unit's page, newest first
        Index("ix_item_next_check", "next_check_at", "id"),
        Index("ix_item_source_light", "source", "light"),
        Index("ix_item_source_state", "source", "state"),
        Index("ix_item_light_unit", "light", "unit_code"),
        Index("ux_item_external_ref", "external_ref", unique=True),
        # Every item column GET /reports/period reads, by creation time (0013, 0016).
        Index(
            "ix_item_period",
            *("created_at", "unit_code", "source", "type", "closed_at", "resolution"),
            *("due_date", "on_time", "campaign", "id"),
        ),
        # Open items by level, then due date: the circular (通报), 0013.
        Index(
            "ix_item_open_level",
            "escalation_level",
            "due_date",
            "id",
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    number: str | None = Field(default=None, unique=True, max_length=32)
    title: str = Field(max_length=500)
    description: str = Field(default="", sa_type=Text)
    source: Source = Field(sa_type=stored_as_string(20), index=True)
    category: str | None = Field(default=None, max_length=100)
    severity: Severity = Field(default=Severity.normal, sa_type=stored_as_string(10))
    unit_code: str | None = Field(default=None, foreign_key="unit.code", max_length=64)
    campaign: str | None = Field(default=None, max_length=200, index=True)
    state: str = Field(max_length=40, index=True)
    review_pending: bool = False
    resolution: str | None = Field(default=None, max_length=20)
    workflow_name: str = Field(max_length=64)
    workflow_version: int
    due_date: date | None = Field(default=None, index=True)
    accept_due_date: date | None = None
    light: Light = Field(default=Light.none, sa_type=stored_as_string(10), index=True)
    escalation_level: int = Field(default=0, index=True)
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ladder_deadline: str | None = Field(default=None, max_length=40)
    ladder_fired: int = 0
    max_escalation_level: int = 0
    """The honest record: the highest level ever reached, never lowered."""
    was_overdue: bool = False
    """True from the first time any deadline of the item went red, for good."""
    rectify_was_overdue: bool = False
    on_time: bool | None = None
    """Null until closed as rectified; then whether it was rectified on time."""
    review_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the latest closure request was made (kept after its decision)."""
    evidence_floor: int = 0
    """Evidence ids up to this one predate the latest reject/reopen: a new
    closure request needs a newer one."""
    evidence_latest: int = 0
    """The item's newest evidence id (0 before the first upload): the upload sets it
    under the row lock, so the fresh-evidence rule reads no evidence rows."""
    version: int = 1
    history_seq: int = 0
    """The ``seq`` and ``hash`` of the newest history entry (0 and the genesis hash
    before the first): appends chain from here, and verify checks the chain ends here."""
    history_hash: str = Field(default="0" * 64, max_length=64)
    history_mac: str = Field(default="", max_length=64)
    """HMAC of the head under the history key (``app.items.anchor``)."""
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    external_ref: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Plans (app/plans): co-units as rendered (the item_co_unit rows are their index),
    # the people, and the measures' counts, kept by every measure change.
    co_unit_codes: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    responsible_person: str | None = Field(default=None, max_length=100)
    responsible_leader: str | None = Field(default=None, max_length=100)
    measures_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    measures_open: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    measures_done: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    measures_ongoing: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    measures_overdue: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # the order types are the workflow file's data (``types:``), not a fixed list
    type: str | None = Field(default=None, max_length=20, index=True)
    satisfaction: Satisfaction | None = Field(default=None, sa_type=stored_as_string(30))
    redo_count: int = 0
    satisfied_callbacks: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Callbacks (回访) that found the caller satisfied or basically satisfied, every one:
    ``satisfaction`` keeps only the latest. With ``redo_count`` (one a dissatisfied
    callback) they are the callbacks the 满意率 counts (``app.ledger.reports``)."""
    duplicate_of: int | None = Field(default=None, foreign_key="item.id")
    duplicate_count: int = 0


class HistoryEntry(SQLModel, table=True):
    """Append-only: one row per transition, escalation, extension decision, upload."""

    __tablename__ = "history_entry"
    __table_args__ = (
        UniqueConstraint("item_id", "seq"),
        # The callbacks (回访) by time: the period report's 满意率 and redo (0016).
        Index(
            "ix_history_callback",
            "at",
            "item_id",
            postgresql_where=text("action = 'callback'"),
            sqlite_where=text("action = 'callback'"),
        ),
        # The reopens (回头看) by time: the period report counts the items reopened
        # since its start from their history (0018).
        Index(
            "ix_history_reopen",
            "at",
            "item_id",
            postgresql_where=text("action = 'reopen'"),
            sqlite_where=text("action = 'reopen'"),
        ),
    )
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    item_id: int = Field(foreign_key="item.id")
    seq: int
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=250)
    action: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, sa_type=Text)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Evidence(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    item_id: int = Field(foreign_key="item.id", index=True)
    filename: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64)
    content_type: str = Field(max_length=200)
    uploaded_at: datetime = Field(sa_type=UTCDateTime)
    uploaded_by: str = Field(max_length=250)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("key_id", "idempotency_key"),)
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    key_id: int
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    item_id: int | None = None
    response: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
