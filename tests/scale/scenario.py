"""The shared scenario of the multi-process tests: setup, settling, and the final checks."""

import os
import re
import time

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from app.clock import TestClock
from app.db import unit_of_work
from app.events.models import Event
from app.items.models import Item
from app.settings import get_settings
from app.webhooks.models import WebhookDelivery
from app.workflow.definition import load_dir
from tests.conftest import ADMIN_TOKEN, PG_URL
from tests.receiver import Receiver
from tests.scale.cluster import Cluster
from tests.scale.invariants import read_tables, violations
from tests.scale.load import BASE, START, Client, Load

SEED = int(os.environ.get("RECTIFY_SCALE_SEED", "20260302"))
DELIVERY_LEASE_S = 20  # the shortest allowed: a killed worker's claims come back sooner
UNIT = "court"
PG_ONLY = [
    pytest.mark.skipif(
        not PG_URL,
        reason="multi-process tests need PostgreSQL: set RECTIFY_TEST_DATABASE_URL (CI does)",
    ),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


def cluster_env(database_url: str, evidence_dir) -> dict[str, str]:
    return {
        "RECTIFY_DATABASE_URL": database_url,
        "RECTIFY_TEST_CLOCK": "1",
        "RECTIFY_BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        "RECTIFY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "RECTIFY_SCAN_INTERVAL_S": "0.5",
        "RECTIFY_DELIVERY_RETRY_SCHEDULE_S": "0.2,0.5,1,1,1",
        "RECTIFY_DELIVERY_LEASE_S": str(DELIVERY_LEASE_S),
        "RECTIFY_EVIDENCE_DIR": str(evidence_dir),
        "RECTIFY_LOG_JSON": "0",
        "RECTIFY_LOG_LEVEL": "INFO",
    }


def prepare(cluster: Cluster, receiver: Receiver, tolerate_crashes: bool):
    """Units, keys, the clock at ``START`` and a ``*`` webhook: (client, webhook secret)."""
    client = Client(cluster.urls, {"admin": ADMIN_TOKEN}, tolerate_crashes)
    client.must("PUT", "/admin/clock", 200, json={"now": START.isoformat()})
    client.must("POST", "/units", 201, json={"code": "city", "name": "某市"})
    unit = {"code": UNIT, "name": "市中级人民法院", "parent_code": "city"}
    client.must("POST", "/units", 201, json=unit)
    for role, body in {
        "sup": {"name": "市纪委监委", "role": "supervisor"},
        "unit": {"name": "法院联络员", "role": "unit", "unit_code": UNIT},
    }.items():
        client.tokens[role] = client.must("POST", "/keys", 201, json=body)["token"]
    sub = client.must("POST", "/webhooks", 201, json={"url": receiver.url(), "events": ["*"]})
    return client, sub["secret"]


def _progress(engine, receiver: Receiver) -> dict:
    with unit_of_work(write=False, engine=engine) as s:
        clock = s.get(TestClock, 1).now
        events = set(s.scalars(select(Event.event_id)))
        return {
            "undispatched": s.scalar(
                select(func.count()).select_from(Event).where(Event.dispatched.is_(False))
            ),
            "pending": s.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
            ),
            "ladder_due": s.scalar(
                select(func.count()).select_from(Item).where(Item.next_check_at <= clock)
            ),
            "not_received": len(events - receiver.delivered_ids()),
        }


def settle(engine, receiver: Receiver, timeout: float) -> tuple[float, dict]:
    """Wait until the outbox is drained, every delivery settled and every due step fired
    (twice in a row), at most ``timeout`` s: (seconds waited, the last progress)."""
    started = time.monotonic()
    calm = 0
    while True:
        state = _progress(engine, receiver)
        calm = calm + 1 if not any(state.values()) else 0
        waited = time.monotonic() - started
        if calm >= 2 or waited > timeout:
            return waited, state
        time.sleep(0.5)


def check(cluster: Cluster, engine, client: Client, load: Load, receiver, secret, crashes: bool):
    """Every invariant of ``tests.scale.invariants``, the chains via the API, the signatures."""
    found = load_dir(get_settings().workflows_dir)
    wf = max(
        (w for (name, _v), w in found.items() if name == "rectification"), key=lambda w: w.version
    )
    tables = read_tables(engine)
    hits = receiver.received()
    errs = violations(tables, wf, load.answers, hits, crashes)
    counts: dict[int, int] = {}
    for e in tables["history"]:
        counts[e.item_id] = counts.get(e.item_id, 0) + 1
    with httpx.Client(base_url=cluster.urls[0], timeout=30) as http:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for iid in tables["items"]:
            r = http.get(f"{BASE}/items/{iid}/history/verify", headers=auth)
            body = r.json()
            if r.status_code != 200 or not body["ok"] or body["entries"] != counts.get(iid):
                errs.append(f"item {iid}: history/verify {r.status_code} {body}")
    signer = Webhook(secret)
    for h in hits:
        try:
            signer.verify(h.body, h.headers)
        except Exception as exc:  # noqa: BLE001 - collected as a violation
            errs.append(f"delivery {h.webhook_id}: signature {exc!r}")
    return tables, hits, errs


def coverage(tables: dict, hits, load: Load) -> dict:
    """What the run exercised, so a pass is never vacuous."""
    steps: dict[str, int] = {}
    for e in tables["history"]:
        if e.actor == "system:scheduler":
            steps[e.action] = steps.get(e.action, 0) + 1
    groups = {a.group for a in load.answers if a.group is not None}
    ok = [a for a in load.answers if a.op == "transition" and a.status == 200]
    return {
        "items": len(tables["items"]),
        "transitions_200": len(ok),
        "conflict_groups": len(groups),
        "refused_in_groups": sum(
            1 for a in load.answers if a.group is not None and a.status in (409, 412)
        ),
        "uncertain": sum(1 for a in load.answers if a.status is None),
        "ladder": steps,
        "events": len(tables["events"]),
        "receiver_hits": len(hits),
        "receiver_500s": sum(1 for h in hits if not h.ok),
        "duplicates": len(hits) - len({h.webhook_id for h in hits}),
    }


def worker_scans(cluster: Cluster) -> dict[str, int]:
    """Scans that found due items, per worker (from its log)."""
    return {
        p.name: p.log.read_text(errors="replace").count("deadline scan:") for p in cluster.workers
    }


def explain(tables: dict, lines: list[str], limit: int = 3) -> str:
    """The history and events of the first items named in ``lines``, to read a failure."""
    named = []
    for line in lines:
        for m in re.finditer(r"item (\d+)", line):
            if int(m.group(1)) not in named:
                named.append(int(m.group(1)))
    out = []
    for iid in named[:limit]:
        out.append(f"--- item {iid} ---")
        for e in tables["history"]:
            if e.item_id == iid:
                out.append(
                    f"  seq {e.seq} {e.at:%m-%d} {e.actor[:20]:20} {e.action:9} "
                    f"{e.from_state}->{e.to_state} {e.data}"
                )
        for ev in tables["events"]:
            if ev.item_id == iid:
                d = ev.data
                out.append(
                    f"  event {ev.id} {ev.type:18} v{d['item']['version']} "
                    f"{d.get('action') or d.get('step')}"
                )
    return "\n".join(out)
