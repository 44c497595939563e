"""Delivery engine: fan the outbox out to subscriptions, then send what is due.

At least once, never early: outbox rows are read only once committed, and a
delivery is marked done only after the receiver's 2xx was recorded. Claiming
a delivery leases it (``next_attempt_at`` is pushed ``RECTIFY_DELIVERY_LEASE_S``
ahead in the claiming transaction), so a worker that dies mid-send loses nothing: the
lease runs out and another worker (or the restarted one) tries again with the
same ``webhook-id``. Within one subscription an item's deliveries go out in
order: a delivery waits while an older one of the same item is pending, and
the worker that holds the oldest sends the due ones after it in sequence.
"""

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app import metrics
from app.clock import real_now
from app.db import unit_of_work
from app.events.models import Event
from app.events.outbox import envelope
from app.settings import get_settings
from app.webhooks.fanout import fan_out
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.webhooks.retry import RetryPolicy, retry_after
from app.webhooks.signing import signed_headers
from app.webhooks.ssrf import parse_allowed_networks, resolve_and_check
from app.webhooks.transport import delivery_client, pinned

log = logging.getLogger("rectify.webhooks")

TIMEOUT_S = 15.0
FAILURE_WINDOW = timedelta(days=5)
MAX_BODY_READ = 64 * 1024
PENDING = DeliveryStatus.pending.value

D = WebhookDelivery
Sub = WebhookSubscription


def body_bytes(envelope_: dict) -> bytes:
    return json.dumps(envelope_, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Job:
    """One claimed delivery, with everything needed to send it outside the transaction."""

    delivery_id: int
    attempts: int
    claimed_at: datetime
    chain: tuple[int, int] | None
    url: str
    secrets: tuple[str, ...]
    msg_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    job: Job
    at: datetime | None = None
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim(session: Session, limit: int, moment: datetime) -> list[Job]:
    """Lease up to ``limit`` due deliveries whose item has no older pending one, plus the
    due deliveries queued right behind them (same subscription and item), in order."""
    older = aliased(D)
    blocked = (
        select(older.id)  # type: ignore[call-overload]  # aliased() shows the Python type; it is a column
        .where(
            older.subscription_id == col(D.subscription_id),
            older.item_id == col(D.item_id),
            older.status == PENDING,
            older.id < col(D.id),
        )
        .exists()
    )
    base = (
        select(D, Event, Sub)
        .join(Sub, col(Sub.id) == col(D.subscription_id))
        .outerjoin(Event, col(Event.id) == col(D.event_row_id))
        .where(col(D.status) == PENDING, col(Sub.enabled).is_(True))
    )
    rows = list(
        session.execute(
            base.where(col(D.next_attempt_at) <= moment, ~blocked)
            .order_by(col(D.next_attempt_at), col(D.id))
            .limit(limit)
            .with_for_update(of=D, skip_locked=True)
        )
    )
    heads = {(d.subscription_id, d.item_id) for d, _, _ in rows if d.item_id is not None}
    if heads:
        followers = session.execute(
            base.where(
                or_(*(and_(col(D.subscription_id) == s, col(D.item_id) == i) for s, i in heads)),
                col(D.id).not_in([d.id for d, _, _ in rows]),
            )
            .order_by(col(D.subscription_id), col(D.item_id), col(D.id))
            .limit(limit)
            .with_for_update(of=D)
        )
        stopped: set[tuple[int, int | None]] = set()
        for row in followers:
            d = row[0]
            key = (d.subscription_id, d.item_id)
            if key in stopped or d.next_attempt_at is None or d.next_attempt_at > moment:
                stopped.add(key)
                continue
            rows.append(row)
    if not rows:
        return []
    session.execute(
        update(D)
        .where(col(D.id).in_([d.id for d, _, _ in rows]))
        .values(next_attempt_at=moment + timedelta(seconds=get_settings().delivery_lease_s))
        .execution_options(synchronize_session=False)
    )
    bodies: dict[int, bytes] = {}
    jobs = []
    for d, event, sub in rows:
        if event is not None:
            if event.id not in bodies:
                bodies[event.id] = body_bytes(envelope(event))
            body = bodies[event.id]
        else:
            body = body_bytes(d.payload or {})
        secrets = [sub.secret]
        if sub.previous_secret and (sub.previous_secret_expires_at or moment) > moment:
            secrets.append(sub.previous_secret)
        jobs.append(
            Job(
                delivery_id=d.id,
                attempts=d.attempts,
                claimed_at=moment,
                chain=(d.subscription_id, d.item_id) if d.item_id is not None else None,
                url=sub.url,
                secrets=tuple(secrets),
                msg_id=d.webhook_id,
                body=body,
            )
        )
    return jobs


def _disable(sub: Sub, reason: str) -> None:
    if sub.enabled:
        sub.enabled = False
        sub.disabled_reason = reason
        log.warning("webhook subscription %s disabled: %s", sub.id, reason)


def _settle(d: D, sub: Sub, outcome: Outcome, policy: RetryPolicy) -> None:
    at = outcome.at or outcome.job.claimed_at
    end = at + timedelta(milliseconds=outcome.duration_ms)
    d.attempts += 1
    d.last_status_code = outcome.status_code
    d.last_error = outcome.error
    if outcome.ok:
        d.status, d.delivered_at, d.next_attempt_at = DeliveryStatus.delivered, end, None
        sub.failing_since = None
        metrics.DELIVERIES.labels("delivered").inc()
        return
    sub.failing_since = sub.failing_since or at
    delay = None if outcome.status_code == 410 else policy.next_delay(d.attempts)
    metrics.DELIVERIES.labels("failed" if delay is None else "retry").inc()
    if delay is None:
        d.status, d.next_attempt_at = DeliveryStatus.failed, None
    else:
        if outcome.status_code in (429, 503) and outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        d.next_attempt_at = end + timedelta(seconds=delay)
    if outcome.status_code == 410:
        _disable(sub, "the receiver answered 410 Gone")
    elif end - sub.failing_since >= FAILURE_WINDOW:
        _disable(sub, f"every delivery failed for {FAILURE_WINDOW.days} days")


def record(session: Session, outcomes: Iterable[Outcome], policy: RetryPolicy) -> None:
    """Write the attempts and move each delivery on (delivered, retry later, failed).

    A result from a claim that is no longer current (its lease ran out and
    another try was recorded meanwhile) is logged as an attempt, nothing more.
    """
    outcomes = list(outcomes)
    ids = sorted({o.job.delivery_id for o in outcomes})
    deliveries = {
        d.id: d
        for d in session.scalars(
            select(D).where(col(D.id).in_(ids)).order_by(col(D.id)).with_for_update()
        )
    }
    sub_ids = sorted({d.subscription_id for d in deliveries.values()})
    subs = {
        s.id: s
        for s in session.scalars(
            select(Sub).where(col(Sub.id).in_(sub_ids)).order_by(col(Sub.id)).with_for_update()
        )
    }
    attempts = []
    for outcome in sorted(outcomes, key=lambda o: (o.at is None, o.at or o.job.claimed_at)):
        d = deliveries.get(outcome.job.delivery_id)
        if d is None:
            continue
        current = d.status == PENDING and d.attempts == outcome.job.attempts
        if outcome.at is None:
            if current:
                d.next_attempt_at = outcome.job.claimed_at
            continue
        attempts.append(
            {
                "delivery_id": d.id,
                "at": outcome.at,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            }
        )
        if current:
            _settle(d, subs[d.subscription_id], outcome, policy)
    if attempts:
        session.execute(insert(WebhookAttempt), attempts)
    session.flush()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {TIMEOUT_S:g} s"
    return f"{type(exc).__name__}: {exc}"[:500]


async def _post(client: httpx.AsyncClient, job: Job, target: tuple[str, int]) -> Outcome:
    started, t0 = real_now(), time.perf_counter()
    url = httpx.URL(job.url)
    headers = signed_headers(list(job.secrets), job.msg_id, int(time.time()), job.body)
    status = error = wait = None
    try:
        with pinned(url.raw_host.decode("ascii"), target[1], target[0]):
            async with (
                asyncio.timeout(TIMEOUT_S),
                client.stream("POST", url, content=job.body, headers=headers) as resp,
            ):
                status = resp.status_code
                excerpt = bytearray()
                async for chunk in resp.aiter_raw():
                    excerpt += chunk
                    if len(excerpt) >= MAX_BODY_READ:
                        break
                if not 200 <= status < 300:
                    text = excerpt[:200].decode("utf-8", "replace").strip()
                    error = f"HTTP {status}" + (f": {text}" if text else "")
                if status in (429, 503):
                    wait = retry_after(resp.headers.get("retry-after"), real_now())
    except Exception as exc:
        status, error = None, _describe(exc)
    duration = round((time.perf_counter() - t0) * 1000)
    return Outcome(job, started, status, error, duration, wait)


async def _send_chain(
    client: httpx.AsyncClient, jobs: list[Job], targets: dict[str, tuple[str, int] | Exception]
) -> list[Outcome]:
    """Send one item's deliveries in order; after a failure the rest wait for the next round."""
    outcomes: list[Outcome] = []
    for i, job in enumerate(jobs):
        target = targets[job.url]
        if isinstance(target, Exception):
            outcome = Outcome(job, real_now(), None, _describe(target))
        else:
            outcome = await _post(client, job, target)
        outcomes.append(outcome)
        if not outcome.ok:
            outcomes.extend(Outcome(rest) for rest in jobs[i + 1 :])
            break
    return outcomes


def _resolve(url: str, allowed) -> tuple[str, int] | Exception:
    try:
        return resolve_and_check(url, allowed)
    except Exception as exc:
        return exc


def _chains(jobs: list[Job]) -> list[list[Job]]:
    grouped: defaultdict[object, list[Job]] = defaultdict(list)
    for job in jobs:
        grouped[job.chain or ("single", job.delivery_id)].append(job)
    return list(grouped.values())


def _claim_in_uow(engine: Engine, limit: int) -> list[Job]:
    moment = real_now()
    with unit_of_work(write=False, engine=engine) as session:
        if (
            session.scalar(select(col(D.id)).where(col(D.next_attempt_at) <= moment).limit(1))
            is None
        ):
            return []
    with unit_of_work(engine=engine) as session:
        return claim(session, limit, moment)


def _record_in_uow(engine: Engine, outcomes: list[Outcome], policy: RetryPolicy) -> None:
    with unit_of_work(engine=engine) as session:
        record(session, outcomes, policy)


def _fan_out_in_uow(engine: Engine, limit: int) -> int:
    with unit_of_work(write=False, engine=engine) as session:
        if (
            session.scalar(select(col(Event.id)).where(col(Event.dispatched).is_(False)).limit(1))
            is None
        ):
            return 0
    with unit_of_work(engine=engine) as session:
        return fan_out(session, limit)


async def deliver_due(
    engine: Engine, limit: int = 100, client: httpx.AsyncClient | None = None
) -> int:
    """Claim due deliveries, POST them concurrently, record the results; returns tries made.

    The target is resolved and checked against the SSRF guard for every round
    and the connection goes to the checked address.
    """
    settings = get_settings()
    policy = RetryPolicy.from_setting(settings.delivery_retry_schedule_s)
    allowed = parse_allowed_networks(settings.webhook_allowed_networks)
    jobs = await asyncio.to_thread(_claim_in_uow, engine, limit)
    if not jobs:
        return 0
    urls = sorted({job.url for job in jobs})
    resolved = await asyncio.gather(*(asyncio.to_thread(_resolve, u, allowed) for u in urls))
    targets = dict(zip(urls, resolved, strict=True))
    own_client = client is None
    client = client or delivery_client(TIMEOUT_S)
    try:
        chains = await asyncio.gather(*(_send_chain(client, c, targets) for c in _chains(jobs)))
    finally:
        if own_client:
            await client.aclose()
    outcomes = [o for chain in chains for o in chain]
    await asyncio.to_thread(_record_in_uow, engine, outcomes, policy)
    return sum(1 for o in outcomes if o.at is not None)


async def run_once(
    engine: Engine,
    client: httpx.AsyncClient | None = None,
    limit: int = 100,
    fan_out_limit: int = 500,
) -> dict:
    """One worker round: fan out new events (own transaction), then deliver what is due."""
    fanned_out = await asyncio.to_thread(_fan_out_in_uow, engine, fan_out_limit)
    attempted = await deliver_due(engine, limit, client)
    return {"fanned_out": fanned_out, "attempted": attempted}
