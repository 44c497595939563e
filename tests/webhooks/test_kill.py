"""Kill -9 the worker process mid-delivery; a restarted worker loses nothing."""

import os
import signal
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from app.clock import real_now
from app.db import unit_of_work
from app.settings import REPO_ROOT
from app.webhooks.models import WebhookDelivery
from tests.webhooks.conftest import subscribe, wait_until

EVENTS = 5


def start_worker(database_url: str, log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "RECTIFY_DATABASE_URL": database_url,
        "RECTIFY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "RECTIFY_SCAN_INTERVAL_S": "3600",
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _deliveries(engine) -> list[WebhookDelivery]:
    with unit_of_work(write=False, engine=engine) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_killed_mid_delivery_then_restarted_delivers_every_event(
    api, engine, database_url, receiver, tmp_path
):
    sub = subscribe(api, receiver, events=["item.created"])
    receiver.hold("/hook")
    for _ in range(EVENTS):
        api.item()
    log_path = tmp_path / "worker.log"

    first = start_worker(database_url, log_path)
    try:
        wait_until(lambda: len(receiver.received()) == EVENTS, what="all sends in flight")
        leased = _deliveries(engine)
        assert {d.status for d in leased} == {"pending"}
        assert all(d.next_attempt_at > real_now() + timedelta(seconds=30) for d in leased)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    in_flight = {r.json["id"]: r.webhook_id for r in receiver.received()}
    receiver.release("/hook")

    with unit_of_work(engine=engine) as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=real_now())
        )
    second = start_worker(database_url, log_path)
    try:
        wait_until(
            lambda: {d.status for d in _deliveries(engine)} == {"delivered"},
            timeout=60,
            what=f"redelivery by the restarted worker (log: {log_path})",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()

    done = [r for r in receiver.received()[EVENTS:] if r.answered == 200]
    event_ids = {d.event_id for d in _deliveries(engine)}
    assert len(event_ids) == EVENTS and set(in_flight) == event_ids
    assert {r.json["id"]: r.webhook_id for r in done} == in_flight
    for r in done:
        r.verify(sub["secret"])
