"""Every table, imported once so that alembic and tests see the whole schema."""

from sqlmodel import SQLModel

from app.auth.models import ApiKey
from app.clock.models import TestClock
from app.deadlines.models import CalendarOverride, Extension
from app.events.models import Event
from app.items.models import Evidence, HistoryEntry, IdempotencyRecord, Item
from app.plans.models import ItemCoUnit, Measure, MeasureProgress
from app.units.models import Unit, UnitAlias
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.workflow.models import WorkflowSnapshot

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "CalendarOverride",
    "Event",
    "Evidence",
    "Extension",
    "HistoryEntry",
    "IdempotencyRecord",
    "Item",
    "ItemCoUnit",
    "Measure",
    "MeasureProgress",
    "TestClock",
    "Unit",
    "UnitAlias",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkflowSnapshot",
    "metadata",
]
