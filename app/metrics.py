"""Prometheus metrics: requests, transitions, scans, outbox lag, deliveries."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select
from sqlmodel import col

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "rectify_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "rectify_http_request_duration_seconds",
    "HTTP request duration by route",
    ["method", "route"],
    registry=REGISTRY,
)
TRANSITIONS = Counter(
    "rectify_transitions_total", "Item transitions by action", ["action"], registry=REGISTRY
)
SCAN_SECONDS = Histogram(
    "rectify_scan_duration_seconds", "Deadline scan duration", registry=REGISTRY
)
LADDER_FIRED = Counter(
    "rectify_ladder_steps_fired_total",
    "Ladder steps fired by the scan",
    ["step"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "rectify_webhook_deliveries_total",
    "Webhook delivery attempts by outcome",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX_LAG = Gauge(
    "rectify_outbox_lag_seconds",
    "Age of the oldest event not yet fanned out to webhooks",
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "rectify_outbox_pending_events", "Events not yet fanned out to webhooks", registry=REGISTRY
)

router = APIRouter(tags=["operations"])


def route_of(request: Request) -> str:
    """The route template ("/api/v1/items/{item_id}"), so labels stay few."""
    if request.scope.get("route") is None:
        return "unmatched"
    params = {str(v): k for k, v in request.scope.get("path_params", {}).items()}
    segments = request.scope["path"].split("/")
    return "/".join(f"{{{params[s]}}}" if s in params else s for s in segments)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    from app.db import unit_of_work
    from app.events.models import Event

    with unit_of_work(write=False, engine=request.app.state.engine) as session:
        oldest, pending = session.execute(
            select(func.min(col(Event.time)), func.count()).where(col(Event.dispatched).is_(False))
        ).one()
    OUTBOX_PENDING.set(pending or 0)
    OUTBOX_LAG.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
