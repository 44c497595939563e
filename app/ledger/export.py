"""The ledger as a file: every matching item, read in keyset batches.

Rows are read ``BATCH`` at a time (``id > last``) in a read-only session of
their own, with the measures of the batch's items in one more query, so
memory stays flat however many items match: csv and xlsx are both streamed
as they are read (xlsx as a zip written on the fly).

One row per item (整改措施 and 整改进展 as numbered lines), or with
``rows=measures`` one row per measure: the item's columns repeated, 整改措施
and 整改进展 that measure's, then 措施类型, 措施时限, 措施状态 and 措施责任单位
(an item without measures still has its one row). Either imports back.
"""

import csv
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Row, select
from sqlmodel import Session, col

from app.auth.service import Caller
from app.db import unit_of_work
from app.items.models import Item
from app.items.queries import ItemFilters, scoped
from app.ledger.cells import KINDS, lone_measure, names, one_line
from app.ledger.columns import (
    COLUMNS,
    LIGHT_LABELS,
    MEASURE_COLUMNS,
    MEASURE_STATUS_LABELS,
    SATISFACTION_LABELS,
    SEVERITY_LABELS,
    SOURCE_LABELS,
    YES_NO,
    type_labels,
)
from app.ledger.xlsx import xlsx_stream
from app.plans.models import Measure
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
    col(Item.co_unit_codes),
    col(Item.responsible_person),
    col(Item.responsible_leader),
    col(Item.measures_total),
)
_MEASURE_SELECTED = (
    col(Measure.item_id),
    col(Measure.title),
    col(Measure.kind),
    col(Measure.due_date),
    col(Measure.status),
    col(Measure.unit_code),
    col(Measure.latest_progress),
)


class ExportRows(StrEnum):
    items = "items"
    measures = "measures"


@dataclass(frozen=True)
class ExportQuery:
    """Who asks and which items: the same filters and scope as GET /items."""

    caller: Caller
    filters: ItemFilters
    unit_path: str | None = None


@dataclass(frozen=True)
class Entry:
    """An item's row and its measures, in order."""

    item: Row
    measures: list[Row]


def _measures_of(session: Session, rows: Sequence[Row]) -> dict[int, list[Row]]:
    ids = [r.id for r in rows if r.measures_total]
    found: dict[int, list[Row]] = {}
    if ids:
        stmt = (
            select(*_MEASURE_SELECTED)
            .where(col(Measure.item_id).in_(ids))
            .order_by(col(Measure.item_id), col(Measure.seq))
        )
        for m in session.execute(stmt):
            found.setdefault(m.item_id, []).append(m)
    return found


def batches(engine: Engine, query: ExportQuery, size: int = BATCH) -> Iterator[list[Entry]]:
    """The matching items in id order with their measures, ``size`` items at a time."""
    with unit_of_work(write=False, engine=engine) as session:
        last = 0
        while True:
            stmt = select(*_SELECTED)
            stmt = query.filters.apply(scoped(stmt, query.caller), query.unit_path)
            rows = session.execute(
                stmt.where(col(Item.id) > last).order_by(col(Item.id)).limit(size)
            ).all()
            if not rows:
                return
            measures = _measures_of(session, rows)
            yield [Entry(r, measures.get(r.id, [])) for r in rows]
            last = rows[-1].id


def unit_names(session: Session) -> dict[str, str]:
    """How the ledger writes each unit (责任单位, 配合单位, 措施责任单位), by code: its
    name, unless an import would not read that name back as this unit (API.md: "a unit
    code or a unit's exact name", codes matched first) -- when another unit has the
    same name (units may share one; the import refuses it as ambiguous) or that name
    as its code. Those units are written by code, so the export imports back."""
    units = session.execute(select(col(Unit.code), col(Unit.name))).all()
    codes = {code for code, _name in units}
    shared = Counter(name for _code, name in units)
    return {
        code: name if shared[name] == 1 and (name == code or name not in codes) else code
        for code, name in units
    }


def _progress(p: dict | None) -> str | None:
    if not p:
        return None
    text = (p.get("comment") or "").strip()
    return f"{text}（{p['percent']}%）" if p.get("percent") is not None else text or None


def _numbered(lines: list[str | None]) -> str | None:
    """``1. …`` lines, numbered by the measure's place; measures without text left out."""
    out = [f"{n}. {line}" for n, line in enumerate(lines, start=1) if line]
    return "\n".join(out) or None


class RowFormatter:
    """One item -> the ledger's rows of cell values (labels, local times)."""

    def __init__(
        self, tz: ZoneInfo, names: dict[str, str] | None = None, per_measure: bool = False
    ) -> None:
        self.tz = tz
        self.names = names or {}
        self.per_measure = per_measure
        self._state_labels: dict[tuple[str, int], dict[str, str]] = {}
        self._type_labels = type_labels()

    @property
    def columns(self):
        return COLUMNS + MEASURE_COLUMNS if self.per_measure else COLUMNS

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

    def _unit(self, code: str | None) -> str | None:
        return self.names.get(code, code) if code else None

    def _co_unit(self, code: str) -> str:
        """A co-unit in the 配合单位 list: by code when its name holds a separator of the
        list (、，, ; or a line break), which the import would split into two names."""
        name = self.names.get(code, code)
        return name if names(name) == [name] else code

    def rows(self, entry: Entry) -> list[list[Any]]:
        if not self.per_measure:
            measures = entry.measures
            lines = _numbered([one_line(m.title) for m in measures])
            progress = _numbered([_progress(m.latest_progress) for m in measures])
            return [self.values(entry.item, lines, progress)]
        if not entry.measures:
            return [self.values(entry.item, None, None) + [None] * len(MEASURE_COLUMNS)]
        return [
            self.values(entry.item, lone_measure(m.title, n), _progress(m.latest_progress))
            + [
                KINDS.get(m.kind, m.kind),
                m.due_date,
                MEASURE_STATUS_LABELS.get(m.status, m.status),
                self._unit(m.unit_code),
            ]
            for n, m in enumerate(entry.measures, start=1)
        ]

    def values(self, row: Row, measures: str | None = None, progress: str | None = None):
        return [
            row.number,
            row.title,
            row.description or None,
            SOURCE_LABELS.get(row.source, row.source),
            row.category,
            SEVERITY_LABELS.get(row.severity, row.severity),
            self._unit(row.unit_code),
            row.due_date,
            row.campaign,
            row.external_ref,
            self._state(row),
            LIGHT_LABELS.get(row.light, row.light),
            row.escalation_level,
            self._local(row.created_at),
            self._local(row.closed_at),
            "、".join(self._co_unit(c) for c in row.co_unit_codes or []) or None,
            row.responsible_person,
            row.responsible_leader,
            measures,
            progress,
            row.max_escalation_level,
            YES_NO[bool(row.was_overdue)],
            YES_NO[row.on_time if row.on_time is None else bool(row.on_time)],
            self._type_labels.get(row.type, row.type),
            SATISFACTION_LABELS.get(row.satisfaction, row.satisfaction),
        ]


def xlsx_chunks(entries: Iterator[list[Entry]], fmt: RowFormatter) -> Iterator[bytes]:
    """The ledger workbook, streamed: a chunk per batch of rows read (``app/ledger/xlsx.py``)."""
    return xlsx_stream(
        "台账",
        [c.zh for c in fmt.columns],
        [c.width for c in fmt.columns],
        ((row for entry in batch for row in fmt.rows(entry)) for batch in entries),
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


def csv_chunks(entries: Iterator[list[Entry]], fmt: RowFormatter) -> Iterator[bytes]:
    """UTF-8 with BOM (so Excel opens it), one chunk per batch of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.zh for c in fmt.columns])
    yield b"\xef\xbb\xbf" + buf.getvalue().encode()
    for batch in entries:
        buf.seek(0)
        buf.truncate()
        for entry in batch:
            for row in fmt.rows(entry):
                writer.writerow([_csv_value(v) for v in row])
        yield buf.getvalue().encode()


def content_disposition(filename: str, fallback: str) -> str:
    """An attachment header with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
