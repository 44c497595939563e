"""HTTP for webhook subscriptions and their deliveries (admin only)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.deps import AdminDep, Id, SessionDep
from app.errors import problems
from app.kit.cursors import PageLimit
from app.links import location
from app.webhooks import service
from app.webhooks.models import (
    AttemptPublic,
    DeliveryDetail,
    DeliveryPage,
    DeliveryPublic,
    DeliveryStatus,
    WebhookCreate,
    WebhookList,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _public(sub) -> WebhookPublic:
    return WebhookPublic.model_validate(sub, from_attributes=True)


def _with_secret(sub) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate(sub, from_attributes=True)


def _delivery(delivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


@router.post("", status_code=201, response_model=WebhookWithSecret)
def create_webhook(body: WebhookCreate, session: SessionDep, _admin: AdminDep, response: Response):
    sub = service.create_subscription(session, body)
    response.headers.update(location(f"/webhooks/{sub.id}"))
    return _with_secret(sub)


@router.get("", response_model=WebhookList)
def list_webhooks(session: SessionDep, _admin: AdminDep):
    subs = service.list_subscriptions(session)
    return WebhookList(data=[_public(s) for s in subs], count=len(subs))


@router.get("/{sub_id}", response_model=WebhookPublic)
def get_webhook(sub_id: Id, session: SessionDep, _admin: AdminDep):
    return _public(service.get_subscription(session, sub_id))


@router.patch("/{sub_id}", response_model=WebhookPublic)
def update_webhook(sub_id: Id, body: WebhookUpdate, session: SessionDep, _admin: AdminDep):
    return _public(service.update_subscription(session, sub_id, body))


@router.delete("/{sub_id}", status_code=204)
def delete_webhook(sub_id: Id, session: SessionDep, _admin: AdminDep):
    service.delete_subscription(session, sub_id)
    return Response(status_code=204)


@router.post("/{sub_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_secret(sub_id: Id, session: SessionDep, _admin: AdminDep):
    return _with_secret(service.rotate_secret(session, sub_id))


@router.post(
    "/{sub_id}/test", status_code=202, response_model=DeliveryPublic, responses=problems(409)
)
def test_webhook(sub_id: Id, session: SessionDep, _admin: AdminDep):
    return _delivery(service.queue_test(session, sub_id))


@router.get("/{sub_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    sub_id: Id,
    session: SessionDep,
    _admin: AdminDep,
    status: DeliveryStatus | None = None,
    limit: PageLimit = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
):
    rows, next_cursor = service.list_deliveries(session, sub_id, cursor, limit, status)
    return DeliveryPage(data=[_delivery(d) for d in rows], next_cursor=next_cursor)


@router.get("/{sub_id}/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(sub_id: Id, delivery_id: Id, session: SessionDep, _admin: AdminDep):
    delivery = service.get_delivery(session, sub_id, delivery_id)
    log = [
        AttemptPublic.model_validate(a, from_attributes=True)
        for a in service.attempts(session, delivery_id)
    ]
    return DeliveryDetail(**_delivery(delivery).model_dump(), attempt_log=log)


@router.post(
    "/{sub_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses=problems(409),
)
def redeliver(sub_id: Id, delivery_id: Id, session: SessionDep, _admin: AdminDep):
    return _delivery(service.redeliver(session, sub_id, delivery_id))
