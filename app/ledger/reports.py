"""Reports over the ledger, counted in SQL with GROUP BY.

Definitions (also in the router's docstring):

- ``total``: items matching the filters; ``by_state``: how many are in each
  workflow state (every state listed, zeros included), summing to ``total``.
- ``closed``: items in a final state (``closed_at`` set), rectified or
  withdrawn; ``open`` = total - closed; ``rectified``: closed with resolution
  ``rectified``.
- ``overdue``: items whose light is ``red`` (a running deadline has passed).
- ``rectification_rate`` (整改率) = rectified / items that were due: items
  whose ``due_date`` is before today (local) or that are closed as rectified;
  withdrawn items and duplicates (重复件) count in neither. ``null`` when
  nothing was due.
- ``on_time_rate`` (按期整改率) = items whose ``on_time`` is true / items
  whose ``on_time`` is set (closed as rectified with a due date): the honest
  record, so a late extension or a slow review does not change it. ``null``
  when there are none.
- ``measures``: the measures of the matching items, ``total`` and by status
  (``open``, ``done``, ``ongoing``), and ``overdue`` (open, past their date).
- ``satisfaction_rate`` (满意率) = callbacks (回访) that found the caller
  satisfied or basically satisfied / callbacks other than ``unreachable``, every
  one (an order sent back and called back again counts both); duplicates
  excluded. ``null`` when there are none.
- ``redo``: how many times callers sent orders back (不满意重办), summed.
- Filters: ``campaign``, ``source``, ``type`` (工单类型), and ``from``/``to`` on the local date of
  ``created_at`` (both inclusive). Unit keys see only their unit's subtree.
- Per unit, items count for the unit they are assigned to (not rolled up to
  parents); items not assigned to any unit form one row with
  ``unit_code: null``, so the rows always add up to the summary.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Select, and_, case, cast, func, or_, select
from sqlmodel import Session, col

from app.auth.service import Caller, with_unit_codes
from app.clock import today
from app.db import is_postgres
from app.deadlines.calendar import local_midnight_utc
from app.items.models import Item, Light, Source
from app.items.queries import scoped
from app.kit.scope import unit_path_or_none
from app.settings import get_settings
from app.units.models import Unit
from app.workflow.registry import registry

UNASSIGNED_NAME = "（未交办）"
MEASURES = (
    "total",
    "closed",
    "rectified",
    "overdue",
    "due",
    "on_time",
    "on_time_base",
    "satisfied",
    "called_back",
    "redo",
)


def _callback_sums() -> list:
    """The 满意率's counts, of orders other than duplicates: ``satisfied``, the callbacks
    that found the caller satisfied or basically satisfied, and ``called_back``, every
    callback but the unreachable ones: those and the dissatisfied ones, one redo each."""
    counted = col(Item.duplicate_of).is_(None)
    satisfied = col(Item.satisfied_callbacks)
    return [
        func.coalesce(func.sum(satisfied).filter(counted), 0).label("satisfied"),
        func.coalesce(func.sum(satisfied + col(Item.redo_count)).filter(counted), 0).label(
            "called_back"
        ),
    ]


@dataclass(frozen=True)
class ReportFilters:
    campaign: str | None = None
    source: Source | None = None
    from_: date | None = None
    to: date | None = None
    type: str | None = None

    def apply(self, stmt: Select, tz: ZoneInfo) -> Select:
        if self.campaign:
            stmt = stmt.where(col(Item.campaign) == self.campaign)
        if self.source:
            stmt = stmt.where(col(Item.source) == self.source.value)
        if self.type:
            stmt = stmt.where(col(Item.type) == self.type)
        start = _midnight(self.from_, tz) if self.from_ else None
        if start is not None:
            stmt = stmt.where(col(Item.created_at) >= start)
        end = _midnight(self.to, tz, days_after=1) if self.to else None
        if end is not None:
            stmt = stmt.where(col(Item.created_at) < end)
        return stmt


def _midnight(day: date, tz: ZoneInfo, days_after: int = 0) -> datetime | None:
    """00:00 local of ``day`` (+ ``days_after``) in UTC; None at the ends of the calendar."""
    try:
        return local_midnight_utc(day + timedelta(days=days_after), tz)
    except OverflowError:
        return None


def _local_date(session: Session, column, tz: ZoneInfo):
    """The local calendar date of a UTC timestamp column, in SQL."""
    if is_postgres(session):
        return cast(func.timezone(tz.key, column), Date)

    def local_date(value: str | None) -> str | None:
        if value is None:
            return None
        return datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(tz).date().isoformat()

    raw: Any = session.connection().connection.driver_connection  # sqlite3.Connection
    raw.create_function("rectify_local_date", 1, local_date, deterministic=True)
    return func.rectify_local_date(column)


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _measures(session: Session, tz: ZoneInfo) -> list:
    rectified = and_(col(Item.closed_at).is_not(None), col(Item.resolution) == "rectified")
    withdrawn = func.coalesce(Item.resolution, "").in_(("withdrawn", "duplicate"))
    was_due = and_(~withdrawn, or_(rectified, col(Item.due_date) < today(session)))
    return [
        func.count(col(Item.id)).label("total"),
        _count(col(Item.closed_at).is_not(None)).label("closed"),
        _count(rectified).label("rectified"),
        _count(Item.light == "red").label("overdue"),
        _count(was_due).label("due"),
        _count(col(Item.on_time).is_(True)).label("on_time"),
        _count(col(Item.on_time).is_not(None)).label("on_time_base"),
        *_callback_sums(),
        func.coalesce(func.sum(Item.redo_count), 0).label("redo"),
    ]


MEASURE_COUNTS = ("total", "open", "done", "ongoing", "overdue")


def _measure_sums() -> list:
    """The measures of the matching items, from the counts each item keeps."""
    return [
        func.coalesce(func.sum(getattr(Item, f"measures_{name}")), 0).label(f"measures_{name}")
        for name in MEASURE_COUNTS
    ]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(counts: dict[str, int]) -> dict:
    return {
        "total": counts["total"],
        "open": counts["total"] - counts["closed"],
        "closed": counts["closed"],
        "rectified": counts["rectified"],
        "overdue": counts["overdue"],
        "rectification_rate": _rate(counts["rectified"], counts["due"]),
        "on_time_rate": _rate(counts["on_time"], counts["on_time_base"]),
        "satisfaction_rate": _rate(counts["satisfied"], counts["called_back"]),
        "redo": counts["redo"],
    }


def _all_states() -> list[str]:
    names: list[str] = []
    for wf in registry.workflows.values():
        names += [s.name for s in wf.states if s.name not in names]
    return names


def summary(session: Session, caller: Caller, filters: ReportFilters) -> dict:
    tz = get_settings().tz
    caller = with_unit_codes(session, caller)
    base = filters.apply(scoped(select(*_measures(session, tz), *_measure_sums()), caller), tz)
    counts = {k: int(v) for k, v in session.execute(base).one()._mapping.items()}

    def counted_by(column, names) -> dict[str, int]:
        got = dict.fromkeys(names, 0)
        stmt = filters.apply(scoped(select(column, func.count(col(Item.id))), caller), tz)
        for value, n in session.execute(stmt.group_by(column)):
            got[value] = int(n)
        return got

    figures = _figures(counts)
    return {
        "total": figures["total"],
        "by_state": counted_by(col(Item.state), _all_states()),
        "by_light": counted_by(col(Item.light), [light.value for light in Light]),
        "open": figures["open"],
        "closed": figures["closed"],
        "rectified": figures["rectified"],
        "rectification_rate": figures["rectification_rate"],
        "overdue": figures["overdue"],
        "on_time_rate": figures["on_time_rate"],
        "measures": {name: counts[f"measures_{name}"] for name in MEASURE_COUNTS},
        "satisfaction_rate": figures["satisfaction_rate"],
        "redo": figures["redo"],
    }


def units(session: Session, caller: Caller, filters: ReportFilters) -> dict:
    tz = get_settings().tz
    caller = with_unit_codes(session, caller)
    stmt = filters.apply(
        scoped(select(col(Item.unit_code), *_measures(session, tz)), caller), tz
    ).group_by(Item.unit_code)
    grouped = {
        row.unit_code: {k: int(getattr(row, k)) for k in MEASURES} for row in session.execute(stmt)
    }
    unit_rows = select(col(Unit.code), col(Unit.name)).order_by(col(Unit.path))
    if caller.scoped:
        # its subtree's units, and the leads of the items it sees as a co-unit: the rows
        # add up to the summary's figures for the same caller
        leads = [code for code in grouped if code is not None]
        unit_rows = unit_rows.where(
            col(Unit.path).startswith(unit_path_or_none(caller.unit_path), autoescape=True)
            | col(Unit.code).in_(leads)
        )
    empty = dict.fromkeys(MEASURES, 0)
    data = [
        {"unit_code": code, "name": name, **_figures(grouped.get(code, empty))}
        for code, name in session.execute(unit_rows)
    ]
    if None in grouped:
        data.append({"unit_code": None, "name": UNASSIGNED_NAME, **_figures(grouped[None])})
    return {"data": data}
