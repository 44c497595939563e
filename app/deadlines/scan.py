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
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Integer, bindparam, select, tuple_
from sqlmodel import col

from app import metrics
from app.clock import now
from app.db import UTCDateTime, is_postgres, unit_of_work
from app.deadlines.batch import due_columns, fire_batch, resume_key
from app.deadlines.store import load_calendar
from app.items.models import Item
from app.plans.scan import scan_measures
from app.settings import get_settings
from app.workflow.registry import registry

log = logging.getLogger("rectify.scan")
BATCH = 500


def due_items_query(moment, after=None, limit: int = BATCH, postgres: bool = False):
    """The next batch of due items, as plain rows of the item table."""
    return _due_statement(after is not None, limit, postgres).params(_due_params(moment, after))


@lru_cache(maxsize=16)
def _due_statement(resume: bool, limit: int, postgres: bool):
    """``due_items_query`` with its values as parameters: one statement object per
    shape, so SQLAlchemy derives its cache key (49 columns) once, not once a batch."""
    stmt = select(*due_columns()).where(col(Item.next_check_at) <= bindparam("moment"))
    if resume:
        # A row value, not ``at > a OR (at = a AND id > i)``: both backends then start
        # the index range at the key and read one batch. With the OR, SQLite read every
        # due row after the key and sorted them, each batch (quadratic in a large scan).
        after = tuple_(
            bindparam("after_at", type_=UTCDateTime), bindparam("after_id", type_=Integer)
        )
        stmt = stmt.where(tuple_(col(Item.next_check_at), col(Item.id)) > after)
    stmt = stmt.order_by(col(Item.next_check_at), col(Item.id)).limit(limit)
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


def _due_params(moment, after) -> dict:
    params = {"moment": moment}
    if after is not None:
        params["after_at"], params["after_id"] = after
    return params


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
            # Plain rows through the connection: the ORM's result layer adds nothing here.
            stmt = _due_statement(after is not None, batch, is_postgres(session))
            rows = session.connection().execute(stmt, _due_params(moment, after)).all()
            if rows:  # (the calendar is read only when something is due: most scans)
                after = resume_key(rows[-1], session.connection().dialect)
                cal = load_calendar(session)
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
