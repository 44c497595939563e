"""Subscription rules: safe targets, known event types, secrets shown once."""

import uuid
from datetime import timedelta

from sqlalchemy import delete, select
from sqlmodel import Session, col

from app.clock import real_now
from app.errors import Conflict, Invalid, NotFound, field_error
from app.kit import cloudevents, cursors
from app.kit.children import children
from app.plans.models import MEASURE_EVENTS
from app.settings import get_settings
from app.units.models import Unit
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookCreate,
    WebhookDelivery,
    WebhookSubscription,
    WebhookUpdate,
)
from app.webhooks.signing import new_secret
from app.webhooks.ssrf import (
    UnresolvableTargetError,
    UnsafeTargetError,
    check_url,
    parse_allowed_networks,
    resolve_and_check,
)
from app.workflow.definition import EVENT_TYPES

ROTATION_GRACE = timedelta(hours=24)
TEST_EVENT = "webhook.test"


def check_target(url: str) -> None:
    """422 unless ``url`` is http(s) to an address outside the refused ranges.

    A name is resolved too; one that does not resolve now is accepted, since
    every delivery resolves and checks it again.
    """
    allowed = parse_allowed_networks(get_settings().webhook_allowed_networks)
    try:
        check_url(url, allowed)
        resolve_and_check(url, allowed)
    except UnresolvableTargetError:
        return
    except UnsafeTargetError as exc:
        raise field_error("url", str(exc)) from None


SUBSCRIBABLE = EVENT_TYPES | MEASURE_EVENTS
"""Every event a subscription may name: the workflows' and the measures'."""


def check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e != "*" and e not in SUBSCRIBABLE]
    if unknown:
        raise Invalid(
            "Unknown event types.",
            errors=[{"field": "events", "message": f"unknown event type {e!r}"} for e in unknown],
        )
    return ["*"] if "*" in events else list(dict.fromkeys(events))


def _check_unit(session: Session, code: str | None) -> None:
    if code is not None and session.get(Unit, code) is None:
        raise field_error("unit_code", f"No unit with code {code!r}.")


def create_subscription(session: Session, data: WebhookCreate) -> WebhookSubscription:
    check_target(data.url)
    events = check_events(data.events)
    _check_unit(session, data.unit_code)
    sub = WebhookSubscription(
        url=data.url,
        events=events,
        unit_code=data.unit_code,
        description=data.description,
        secret=new_secret(),
        created_at=real_now(),
    )
    session.add(sub)
    session.flush()
    return sub


def get_subscription(session: Session, sub_id: int, *, lock: bool = False) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id, with_for_update=lock or None)
    if sub is None:
        raise NotFound(f"No webhook subscription with id {sub_id}.")
    return sub


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(col(WebhookSubscription.id))))


def update_subscription(session: Session, sub_id: int, data: WebhookUpdate) -> WebhookSubscription:
    sub = get_subscription(session, sub_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    for required in ("url", "events", "enabled"):
        if required in changes and changes[required] is None:
            raise field_error(required, "must not be null")
    if "url" in changes:
        sub.url = changes["url"].strip()
        check_target(sub.url)
    if "events" in changes:
        sub.events = check_events(changes["events"])
    if "unit_code" in changes:
        _check_unit(session, changes["unit_code"])
        sub.unit_code = changes["unit_code"]
    if "description" in changes:
        sub.description = changes["description"]
    if changes.get("enabled") is True and not sub.enabled:
        sub.enabled, sub.disabled_reason, sub.failing_since = True, None, None
    elif changes.get("enabled") is False and sub.enabled:
        sub.enabled, sub.disabled_reason = False, "disabled by an admin"
    session.flush()
    return sub


def delete_subscription(session: Session, sub_id: int) -> None:
    sub = get_subscription(session, sub_id, lock=True)
    deliveries = select(col(WebhookDelivery.id)).where(
        col(WebhookDelivery.subscription_id) == sub_id
    )
    session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(deliveries)))
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == sub_id))
    session.delete(sub)
    session.flush()


def rotate_secret(session: Session, sub_id: int) -> WebhookSubscription:
    """A new secret; the old one keeps signing too for ``ROTATION_GRACE``."""
    sub = get_subscription(session, sub_id, lock=True)
    sub.previous_secret = sub.secret
    sub.previous_secret_expires_at = real_now() + ROTATION_GRACE
    sub.secret = new_secret()
    session.flush()
    return sub


def _require_enabled(sub: WebhookSubscription) -> None:
    if not sub.enabled:
        raise Conflict(
            f"The subscription is disabled ({sub.disabled_reason}); "
            'enable it first with PATCH {"enabled": true}.'
        )


def queue_test(session: Session, sub_id: int) -> WebhookDelivery:
    """Queue a ``webhook.test`` ping for this subscription only."""
    sub = get_subscription(session, sub_id)
    _require_enabled(sub)
    moment = real_now()
    event_id = f"evt_{uuid.uuid4().hex}"
    delivery = WebhookDelivery(
        subscription_id=sub.id,
        event_id=event_id,
        event_type=TEST_EVENT,
        payload=cloudevents.envelope(
            event_id,
            TEST_EVENT,
            moment,
            f"webhooks/{sub.id}",
            {"subscription_id": sub.id, "message": "Test ping from Rectify."},
        ),
        next_attempt_at=moment,
        created_at=moment,
    )
    session.add(delivery)
    session.flush()
    return delivery


def list_deliveries(
    session: Session,
    sub_id: int,
    cursor: str | None,
    limit: int,
    status: DeliveryStatus | None = None,
) -> tuple[list[WebhookDelivery], str | None]:
    """Newest first, keyset on id."""
    get_subscription(session, sub_id)
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == sub_id)
    if status is not None:
        stmt = stmt.where(col(WebhookDelivery.status) == status.value)
    return cursors.newest_first(session, stmt, WebhookDelivery.id, "d", cursor, limit)


def get_delivery(
    session: Session, sub_id: int, delivery_id: int, *, lock: bool = False
) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=lock or None)
    if delivery is None or delivery.subscription_id != sub_id:
        raise NotFound(f"No delivery {delivery_id} for webhook subscription {sub_id}.")
    return delivery


def attempts(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    return children(
        session, WebhookAttempt, WebhookAttempt.delivery_id, delivery_id, order=WebhookAttempt.id
    )


def redeliver(session: Session, sub_id: int, delivery_id: int) -> WebhookDelivery:
    """Queue a new try now, with the same ``webhook-id`` and body.

    If it fails, the delivery goes on with whatever tries its retry schedule
    has left (none after a delivery had failed for good).
    """
    sub = get_subscription(session, sub_id)
    _require_enabled(sub)
    delivery = get_delivery(session, sub_id, delivery_id, lock=True)
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = real_now()
    session.flush()
    return delivery
