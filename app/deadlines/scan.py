"""The deadline scan: indexed by ``next_check_at``, not a sweep over all items.

Each batch selects ``WHERE next_check_at <= now ORDER BY next_check_at, id
LIMIT n`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so parallel workers
split the work), fires its items' due ladder steps as set work (a few
statements per batch, ``app.deadlines.batch``) and commits. Its cost grows
with the items that are due, not with the items that exist.
"""

import logging
import time
from collections import Counter
from typing import Any

from sqlalchemy import Engine, and_, or_, select
from sqlmodel import col

from app import metrics
from app.clock import now
from app.db import is_postgres, unit_of_work
from app.deadlines.batch import due_columns, fire_batch
from app.deadlines.store import load_calendar
from app.items.models import Item
from app.plans.scan import scan_measures
from app.settings import get_settings
from app.workflow.registry import registry

log = logging.getLogger("rectify.scan")
BATCH = 500


def due_items_query(moment, after=None, limit: int = BATCH, postgres: bool = False):
    """The next batch of due items, as plain rows of the item table."""
    stmt = select(*due_columns()).where(Item.next_check_at <= moment)
    if after is not None:
        at, item_id = after
        stmt = stmt.where(
            or_(Item.next_check_at > at, and_(Item.next_check_at == at, Item.id > item_id))
        )
    stmt = stmt.order_by(col(Item.next_check_at), col(Item.id)).limit(limit)
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


def run_scan(engine: Engine | None = None, batch: int = BATCH) -> dict:
    """One scan: {"checked": n, "fired": {step: n}, "duration_s": s}."""
    started = time.perf_counter()
    fired: Counter[str] = Counter()
    checked = 0
    after = None
    tz = get_settings().tz
    while True:
        with unit_of_work(engine=engine) as session:
            moment = now(session)
            cal = load_calendar(session)
            # Plain rows through the connection: the ORM's result layer adds nothing here.
            rows = (
                session.connection()
                .execute(due_items_query(moment, after, batch, postgres=is_postgres(session)))
                .all()
            )
            if rows:
                after = (rows[-1].next_check_at, rows[-1].id)
                fired.update(fire_batch(session, rows, cal, tz, moment))
            checked += len(rows)
        if len(rows) < batch:
            break
    measures = scan_measures(engine, batch)
    if measures["measure.overdue"]:  # listed when any fired
        fired["measure.overdue"] = measures["measure.overdue"]
    steps = {name for wf in registry.workflows.values() for name in wf.step_names()}
    result: dict[str, Any] = {
        "checked": checked + measures["checked"],
        "fired": {name: fired.get(name, 0) for name in sorted(steps | set(fired))},
        "duration_s": round(time.perf_counter() - started, 4),
    }
    metrics.SCAN_SECONDS.observe(result["duration_s"])
    for step, n in fired.items():
        metrics.LADDER_FIRED.labels(step).inc(n)
    if checked:
        log.info("deadline scan: %s", result)
    return result
