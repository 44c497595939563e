"""The scan's work on one batch of due items, as set work.

The rules are the single item's (``ladder.advance`` then ``schedule.refresh``:
each step once, only the highest of several passed steps fires, lights and
``next_check_at``); what differs is how the batch is written. The items are
read as plain rows (no ORM objects), the ladder times computed once per
deadline, and the batch's writes are a few statements: one UPDATE of the
changed items, one INSERT of the history entries (``_Many``), and the outbox
rows (``emit`` inserts them 500 at a time). Each history entry chains
from its item's head and the head's HMAC is recomputed, as ``history.append``
does; each event carries the item's JSON as ``item_json`` renders it.

The caller holds the rows' locks (``FOR UPDATE SKIP LOCKED``, or SQLite's one
writer), so writing the computed values back is safe.
"""

import json
from collections import Counter
from datetime import date, datetime
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Text, type_coerce
from sqlmodel import Session

from app.db import table_of
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.ladder import SYSTEM_ACTOR, advance, event_data
from app.deadlines.schedule import refresh, step_times
from app.events.outbox import emit
from app.items import history
from app.items.anchor import head_mac, history_key
from app.items.models import HistoryEntry, Item
from app.workflow.registry import registry

WRITTEN = (
    "version",
    "updated_at",
    "ladder_fired",
    "escalation_level",
    "max_escalation_level",
    "was_overdue",
    "rectify_was_overdue",
    "light",
    "next_check_at",
    "history_seq",
    "history_hash",
    "history_mac",
)
"""The item columns the ladder and the history chain move."""

_TABLE = table_of(Item)


class _Many:
    """One statement writing many rows of ``table``: an UPDATE by ``key`` or an INSERT.

    The values are converted by the columns' own bind processors (stored exactly
    as SQLAlchemy stores them), once per distinct value for the ``repeated``
    columns (the scan's moment, the ladder times); SQLAlchemy's per-row
    parameter processing cost more CPU than the database's work on these rows.
    SQLite runs it as the driver's ``executemany`` (one prepared statement);
    PostgreSQL as one statement over ``unnest`` of one array per column, so the
    server plans and runs it once per batch, not once per row.
    """

    def __init__(self, table, names: list[str], key: str | None = None, repeated=()) -> None:
        self.table, self.names, self.key, self.repeated = table, names, key, set(repeated)
        self._prepared: dict = {}

    def _sql(self, dialect) -> tuple[str, list[str], dict]:
        got = self._prepared.get(dialect.name)
        if got is not None:
            return got
        t, names, key = self.table, self.names, self.key
        columns = [*names, key] if key else names
        procs = {name: _processor(t.c[name].type, dialect) for name in columns}
        if dialect.name == "postgresql":
            arrays = ", ".join(f"%({n})s::{t.c[n].type.compile(dialect)}[]" for n in columns)
            source = f"unnest({arrays}) AS v({', '.join(columns)})"
            if key:
                sets = ", ".join(f"{n} = v.{n}" for n in names)
                sql = f"UPDATE {t.name} SET {sets} FROM {source} WHERE {t.name}.{key} = v.{key}"
            else:
                sql = f"INSERT INTO {t.name} ({', '.join(names)}) SELECT * FROM {source}"
        elif key:
            sets = ", ".join(f"{n} = ?" for n in names)
            sql = f"UPDATE {t.name} SET {sets} WHERE {key} = ?"
        else:
            sql = (
                f"INSERT INTO {t.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            )
        got = self._prepared[dialect.name] = (sql, columns, procs)
        return got

    def run(self, conn, rows: list[dict]) -> None:
        if not rows:
            return
        sql, columns, procs = self._sql(conn.dialect)
        caches: dict[str, dict] = {name: {} for name in self.repeated}
        converted = []
        for row in rows:
            values = []
            for name in columns:
                value = row[name]
                proc = procs[name]
                if proc is not None and value is not None:
                    cache = caches.get(name)
                    if cache is None:
                        value = proc(value)
                    elif (done := cache.get(value)) is not None:
                        value = done
                    else:
                        value = cache[value] = proc(value)
                values.append(value)
            converted.append(values)
        if conn.dialect.name == "postgresql":
            arrays = [list(column) for column in zip(*converted, strict=True)]
            conn.exec_driver_sql(sql, dict(zip(columns, arrays, strict=True)))
        else:
            conn.exec_driver_sql(sql, [tuple(v) for v in converted])


def _processor(type_, dialect):
    proc = type_.bind_processor(dialect)
    if proc is None and isinstance(type_, JSON):  # psycopg's dialect lets the driver dump
        return json.dumps
    return proc


_UPDATE = _Many(_TABLE, list(WRITTEN), key="id", repeated={"updated_at", "next_check_at"})
_HISTORY = table_of(HistoryEntry)
_INSERT_HISTORY = _Many(_HISTORY, [c.name for c in _HISTORY.c if c.name != "id"], repeated={"at"})


_written = attrgetter(*WRITTEN)
LISTS = ("tags", "co_unit_codes")
"""JSON list columns: read as text (SQLite) and decoded once per distinct value."""


def due_columns(table=_TABLE) -> list:
    """The item table's columns as the batch reads them."""
    return [type_coerce(c, Text).label(c.name) if c.name in LISTS else c for c in table.c]


@lru_cache(maxsize=1024)
def _decoded(raw: str) -> tuple:
    return tuple(json.loads(raw))


def _as_list(value) -> list:
    # PostgreSQL's driver already decodes json; SQLite hands over the text.
    return list(_decoded(value)) if isinstance(value, str) else list(value or ())


class DueItem:
    """An item row as a mutable object, for the ladder's attribute-based rules."""

    tags: list
    co_unit_codes: list

    if TYPE_CHECKING:  # the item's other columns, set from the row's mapping

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __init__(self, mapping) -> None:
        self.__dict__.update(mapping)
        self.tags = _as_list(self.tags)
        self.co_unit_codes = _as_list(self.co_unit_codes)

    def written(self) -> tuple:
        return _written(self)


def fire_batch(
    session: Session, rows, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime
) -> Counter[str]:
    """Fire the due steps of ``rows`` (locked item rows) and write the batch:
    the names of the steps fired, counted."""
    fired_names: Counter[str] = Counter()
    key = history_key()
    cache: dict = {}

    def times(wf, kind, due, cal, tz):
        at = cache.get((id(wf), kind, due))
        if at is None:
            at = cache[id(wf), kind, due] = step_times(wf, kind, due, cal, tz)
        return at

    changed: list[dict] = []
    entries: list[dict] = []
    for row in rows:
        item = DueItem(row._mapping)
        before = item.written()
        wf = registry.get(item.workflow_name, item.workflow_version)
        fired = advance(item, wf, cal, tz, now, times)
        if fired is not None:
            # What the item writer does for one item (app.items.writer), for a batch.
            item.version += 1
            item.updated_at = now
            fired_names[fired.step.name] += 1
            entries.append(_chain(item, key, now, fired.step.name, fired.data))
            data = event_data(fired)
            if data is not None:
                data["item"] = snapshot(item)
                emit(
                    session,
                    fired.step.event,
                    subject=f"items/{item.id}",
                    at=now,
                    item_id=item.id,
                    unit_code=item.unit_code,
                    co_unit_codes=item.co_unit_codes,
                    data=data,
                )
        refresh(item, wf, cal, tz, now, times)
        after = item.written()
        if after != before:
            params = dict(zip(WRITTEN, after, strict=True))
            params["id"] = item.id
            changed.append(params)
    conn = session.connection()
    _UPDATE.run(conn, changed)
    _INSERT_HISTORY.run(conn, entries)
    return fired_names


def _chain(item: DueItem, key: bytes, at: datetime, action: str, data: dict) -> dict:
    """The item's next history entry (a note: the state does not move); moves its head."""
    entry = {
        "item_id": item.id,
        "seq": item.history_seq + 1,
        "at": at,
        "actor": SYSTEM_ACTOR,
        "action": action,
        "from_state": item.state,
        "to_state": item.state,
        "comment": None,
        "data": data,
        "prev_hash": item.history_hash,
    }
    entry["hash"] = history.compute_hash(entry)
    item.history_seq, item.history_hash = entry["seq"], entry["hash"]
    item.history_mac = head_mac(key, item.id, entry["seq"], entry["hash"])
    return entry


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _moment(m: datetime | None) -> str | None:
    """As pydantic renders an aware UTC datetime in JSON."""
    return None if m is None else m.isoformat().replace("+00:00", "Z")


def snapshot(item) -> dict:
    """``item_json`` of the item, built without validating a model (the batch makes
    thousands); a test holds the two equal."""
    return {
        "id": item.id,
        "number": item.number,
        "title": item.title,
        "description": item.description,
        "source": item.source,
        "category": item.category,
        "severity": item.severity,
        "unit_code": item.unit_code,
        "campaign": item.campaign,
        "state": item.state,
        "review_pending": bool(item.review_pending),
        "resolution": item.resolution,
        "workflow": {"name": item.workflow_name, "version": item.workflow_version},
        "due_date": _day(item.due_date),
        "accept_due_date": _day(item.accept_due_date),
        "light": item.light,
        "escalation_level": item.escalation_level,
        "max_escalation_level": item.max_escalation_level,
        "was_overdue": bool(item.was_overdue),
        "on_time": item.on_time,
        "version": item.version,
        "tags": list(item.tags),
        "external_ref": item.external_ref,
        "created_at": _moment(item.created_at),
        "updated_at": _moment(item.updated_at),
        "closed_at": _moment(item.closed_at),
        "co_unit_codes": list(item.co_unit_codes),
        "responsible_person": item.responsible_person,
        "responsible_leader": item.responsible_leader,
        "measures_summary": {
            "total": item.measures_total,
            "open": item.measures_open,
            "done": item.measures_done,
            "ongoing": item.measures_ongoing,
            "overdue": item.measures_overdue,
        },
        "type": item.type,
        "satisfaction": item.satisfaction,
        "redo_count": item.redo_count,
        "duplicate_of": item.duplicate_of,
        "duplicate_count": item.duplicate_count,
    }
