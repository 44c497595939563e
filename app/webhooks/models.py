"""Webhook subscriptions, their deliveries and every attempt of a delivery."""

from datetime import datetime
from enum import StrEnum

from pydantic import StrictBool, field_validator
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, stored_as_string


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class WebhookSubscription(SQLModel, table=True):
    """A receiver. ``secret`` signs; ``previous_secret`` also signs until it expires."""

    __tablename__ = "webhook_subscription"
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    unit_code: str | None = Field(default=None, foreign_key="unit.code", max_length=64)
    description: str | None = Field(default=None, max_length=500)
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription; ``next_attempt_at`` is set only while pending.

    ``event_row_id`` points at the outbox row the body is built from; a test
    ping has no outbox row and carries its envelope in ``payload``.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_row_id"),
        Index("ix_webhook_delivery_item_order", "subscription_id", "item_id", "status"),
    )
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    event_row_id: int | None = Field(default=None, foreign_key="event.id")
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=60)
    item_id: int | None = None
    payload: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=stored_as_string(10))
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the same on every retry and redelivery."""
        return f"msg_{self.event_id.removeprefix('evt_')}_{self.subscription_id}"


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int = 0


class WebhookBase(SQLModel):
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=50)
    unit_code: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _strip_url(cls, v: str) -> str:
        return v.strip()


class WebhookCreate(WebhookBase):
    pass


class WebhookUpdate(SQLModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50)
    unit_code: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = None  # JSON true/false only, as the schema says


class WebhookPublic(SQLModel):
    id: int
    url: str
    events: list[str]
    unit_code: str | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class WebhookWithSecret(WebhookPublic):
    secret: str


class WebhookList(SQLModel):
    data: list[WebhookPublic]
    count: int


class AttemptPublic(SQLModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryPublic(SQLModel):
    id: int
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    attempt_log: list[AttemptPublic]


class DeliveryPage(SQLModel):
    data: list[DeliveryPublic]
    next_cursor: str | None
