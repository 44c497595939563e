"""The ledger as a file: every matching item, read in keyset batches.

Rows are read ``BATCH`` at a time (``id > last``) in a read-only session of
their own, so memory stays flat however many items match: csv and xlsx are
both streamed as they are read (xlsx as a zip written on the fly).
"""

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Row, select
from sqlmodel import col

from app.auth.service import Caller
from app.db import unit_of_work
from app.items.models import Item
from app.items.queries import ItemFilters, scoped
from app.ledger.columns import (
    COLUMNS,
    LIGHT_LABELS,
    SATISFACTION_LABELS,
    SEVERITY_LABELS,
    SOURCE_LABELS,
    YES_NO,
    type_labels,
)
from app.ledger.xlsx import xlsx_stream
from app.units.models import Unit
from app.workflow.registry import registry

BATCH = 1000
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SELECTED: tuple[Any, ...] = (
    col(Item.id),
    col(Item.number),
    col(Item.title),
    col(Item.description),
    col(Item.source),
    col(Item.category),
    col(Item.severity),
    col(Item.unit_code),
    col(Unit.name).label("unit_name"),
    col(Item.due_date),
    col(Item.campaign),
    col(Item.external_ref),
    col(Item.state),
    col(Item.light),
    col(Item.escalation_level),
    col(Item.created_at),
    col(Item.closed_at),
    col(Item.max_escalation_level),
    col(Item.was_overdue),
    col(Item.on_time),
    col(Item.workflow_name),
    col(Item.workflow_version),
    col(Item.type),
    col(Item.satisfaction),
)


@dataclass(frozen=True)
class ExportQuery:
    """Who asks and which items: the same filters and scope as GET /items."""

    caller: Caller
    filters: ItemFilters
    unit_path: str | None = None


def batches(engine: Engine, query: ExportQuery, size: int = BATCH) -> Iterator[Sequence[Row]]:
    """The matching items in id order, ``size`` rows at a time."""
    with unit_of_work(write=False, engine=engine) as session:
        last = 0
        while True:
            stmt = select(*_SELECTED).outerjoin(Unit, col(Unit.code) == col(Item.unit_code))
            stmt = query.filters.apply(scoped(stmt, query.caller), query.unit_path)
            rows = session.execute(
                stmt.where(col(Item.id) > last).order_by(col(Item.id)).limit(size)
            ).all()
            if not rows:
                return
            yield rows
            last = rows[-1].id


class RowFormatter:
    """One item row -> the ledger's cell values (labels, local times)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._state_labels: dict[tuple[str, int], dict[str, str]] = {}
        self._type_labels = type_labels()

    def _state(self, row: Row) -> str:
        key = (row.workflow_name, row.workflow_version)
        labels = self._state_labels.get(key)
        if labels is None:
            wf = registry.workflows.get(key)
            labels = {s.name: s.label.zh for s in wf.states} if wf else {}
            self._state_labels[key] = labels
        return labels.get(row.state, row.state)

    def _local(self, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return moment.astimezone(self.tz).replace(tzinfo=None, microsecond=0)

    def values(self, row: Row) -> list[Any]:
        return [
            row.number,
            row.title,
            row.description or None,
            SOURCE_LABELS.get(row.source, row.source),
            row.category,
            SEVERITY_LABELS.get(row.severity, row.severity),
            row.unit_name or row.unit_code,
            row.due_date,
            row.campaign,
            row.external_ref,
            self._state(row),
            LIGHT_LABELS.get(row.light, row.light),
            row.escalation_level,
            self._local(row.created_at),
            self._local(row.closed_at),
            row.max_escalation_level,
            YES_NO[bool(row.was_overdue)],
            YES_NO[row.on_time if row.on_time is None else bool(row.on_time)],
            self._type_labels.get(row.type, row.type),
            SATISFACTION_LABELS.get(row.satisfaction, row.satisfaction),
        ]


def xlsx_chunks(rows: Iterator[Sequence[Row]], fmt: RowFormatter) -> Iterator[bytes]:
    """The ledger workbook, streamed: a chunk per batch of rows read (``app/ledger/xlsx.py``)."""
    return xlsx_stream(
        "台账",
        [c.zh for c in COLUMNS],
        [c.width for c in COLUMNS],
        (map(fmt.values, batch) for batch in rows),
    )


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_chunks(rows: Iterator[Sequence[Row]], fmt: RowFormatter) -> Iterator[bytes]:
    """UTF-8 with BOM (so Excel opens it), one chunk per batch of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.zh for c in COLUMNS])
    yield b"\xef\xbb\xbf" + buf.getvalue().encode()
    for batch in rows:
        buf.seek(0)
        buf.truncate()
        for row in batch:
            writer.writerow([_csv_value(v) for v in fmt.values(row)])
        yield buf.getvalue().encode()


def content_disposition(filename: str, fallback: str) -> str:
    """An attachment header with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
