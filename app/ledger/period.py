"""The period report (月度调度) and the circular (通报), counted in SQL (reopened items
from their history).

Figures of a period ``from``..``to`` (local dates, inclusive; ``start`` and
``end`` are 00:00 local of ``from`` and of the day after ``to``):

- ``new``: created in the period; ``closed``: closed in it (any resolution);
  ``rectified``: closed in it as rectified.
- ``open_at_end``: created before ``end`` and not closed before ``end``;
  ``overdue_at_end``: of those, the ones whose due date is before ``to``.
- ``cumulative_rectified``: closed as rectified before ``end``.
- ``rectification_rate`` (整改率) = cumulative_rectified / (cumulative_rectified
  + overdue_at_end): of the items that were due by ``to`` (withdrawn ones
  aside), the share rectified by the end of the period.
- ``on_time_rate`` (按期整改率) = items rectified in the period whose ``on_time``
  (the honest record: the closure request by the due date in force, never
  overdue) is true / those whose ``on_time`` is set, as the summary counts it.
- ``satisfaction_rate`` (满意率) = callbacks (回访) made in the period that found
  the caller satisfied or basically satisfied / callbacks made in it other than
  ``unreachable`` (duplicates excluded); ``redo``: the orders sent back in it
  (its dissatisfied callbacks).
- Rates are ``null`` when there is nothing to divide by.

A past month's figures stay as they were. The figures follow each closure at its
own time: an item closed in the period counts as closed (rectified) in it even if
it was reopened (回头看) since, ``open_at_end`` and ``cumulative_rectified`` take
the item as it was at ``end`` (closed or not, with the resolution it had then),
and an item closed, reopened and closed again counts in each closure's period,
once per figure. A reopen clears the row's ``closed_at``, ``resolution`` and
``on_time``, so:

- the items not reopened since ``start`` are counted from their rows in SQL (one
  grouped query, a range of the covering ``ix_item_period``): their row holds
  their one closure since ``start``, if any, and their state at ``end``;
- the items reopened since ``start`` (``ix_history_reopen``: few, and none in
  most months) are counted from their history (``_from_history``, by
  ``app.ledger.reopened``): the entries that enter a final state (closures:
  ``at``, the resolution), the reopens that leave it, and the due date in force
  at ``end`` (a reopen sets a new one). Their group key, filters and ``new`` are
  their rows', as everyone's. An item rectified more than once in the period
  counts the latest rectification's ``on_time``.

``overdue_at_end`` of an item never reopened compares its current ``due_date``: one
moved after ``end`` (an extension approved late, a reassign) moves it in past months
too (the due dates' history is replayed for reopened items only).

One grouped query of items and one of callbacks per report, and one of the
reopened items' moves; ``group=unit`` sums the lead units' rows up to their
top-level unit (a county, a department), each with its children, ranked by
``rectification_rate`` (highest first) then fewest ``overdue_at_end``.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import groupby

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session, col

from app.auth.service import Caller, with_unit_codes
from app.clock import today
from app.deadlines.calendar import local_midnight_utc
from app.deadlines.schedule import running_deadline
from app.deadlines.store import load_calendar
from app.items.models import SATISFIED, HistoryEntry, Item, Satisfaction, Source
from app.items.queries import scoped
from app.ledger.columns import SOURCE_LABELS, type_labels
from app.ledger.reopened import history_counts, reopened_since
from app.ledger.reports import UNASSIGNED_NAME
from app.settings import get_settings
from app.units.models import Unit
from app.workflow.registry import registry

ITEM_COUNTS = (
    "new",
    "closed",
    "rectified",
    "open_at_end",
    "overdue_at_end",
    "cumulative_rectified",
    "on_time",
    "on_time_base",
)
COUNTS = (*ITEM_COUNTS, "satisfied", "called_back", "redo")
NO_TYPE = "（无工单类型）"
EARLIEST, LATEST = date(1, 1, 2), date(9999, 12, 30)
"""The days whose local midnights (and the next day's) exist as UTC instants."""


class Group(StrEnum):
    source = "source"
    unit = "unit"
    type = "type"


@dataclass(frozen=True)
class Period:
    from_: date
    to: date
    group: Group = Group.source
    source: Source | None = None
    campaign: str | None = None
    type: str | None = None


def _sum(condition):
    """``count(*) FILTER (WHERE condition)``: cheaper than ``sum(CASE ...)`` per row."""
    return func.count().filter(condition)


def _counts(period: Period, start, end) -> list:
    is_rectified = col(Item.resolution) == "rectified"
    closed_in = and_(col(Item.closed_at) >= start, col(Item.closed_at) < end)
    rectified_in = and_(closed_in, is_rectified)
    open_at_end = or_(col(Item.closed_at).is_(None), col(Item.closed_at) >= end)
    return [
        _sum(col(Item.created_at) >= start).label("new"),
        _sum(closed_in).label("closed"),
        _sum(rectified_in).label("rectified"),
        _sum(open_at_end).label("open_at_end"),
        _sum(and_(open_at_end, col(Item.due_date) < period.to)).label("overdue_at_end"),
        _sum(and_(is_rectified, col(Item.closed_at) < end)).label("cumulative_rectified"),
        _sum(and_(rectified_in, col(Item.on_time).is_(True))).label("on_time"),
        _sum(and_(rectified_in, col(Item.on_time).is_not(None))).label("on_time_base"),
    ]


CALLBACK_COUNTS = ("satisfied", "called_back", "redo")


def _callbacks(caller: Caller, period: Period, column, start, end):
    """{group value: callback counts} of the callbacks (回访) made in the period to the
    caller's orders (duplicates aside): ``ix_history_callback``'s range, each entry's item
    by its key."""
    entry = HistoryEntry
    answer = entry.data["satisfaction"].as_string()
    stmt = scoped(
        select(
            column.label("key"),
            func.count().filter(answer.in_(SATISFIED)).label("satisfied"),
            func.count().filter(answer != Satisfaction.unreachable.value).label("called_back"),
            func.count().filter(answer == Satisfaction.dissatisfied.value).label("redo"),
        ).join(Item, col(Item.id) == col(entry.item_id)),
        caller,
    ).where(
        # a literal, as the partial index says it: SQLite uses the index only then
        col(entry.action) == literal_column("'callback'"),
        col(entry.at) >= start,
        col(entry.at) < end,
        col(Item.duplicate_of).is_(None),
    )
    return _filtered(stmt, period).group_by(column)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(counts: dict[str, int]) -> dict:
    return {
        **{k: counts[k] for k in COUNTS[:6]},
        "rectification_rate": _rate(
            counts["cumulative_rectified"],
            counts["cumulative_rectified"] + counts["overdue_at_end"],
        ),
        "on_time_rate": _rate(counts["on_time"], counts["on_time_base"]),
        "satisfaction_rate": _rate(counts["satisfied"], counts["called_back"]),
        "redo": counts["redo"],
    }


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for k in COUNTS:
        into[k] = into.get(k, 0) + counts[k]


class _NotForOrder(ColumnElement):
    """A GROUP BY key SQLite may not read in index order (``+column``; the column
    itself elsewhere).

    Offered an index that yields the groups in order (``ix_item_unit_state``),
    SQLite walks it and fetches every item's row from the table: 6.7 s at 1M
    items for a March report. Kept from that, it reads the period's range of
    the covering ``ix_item_period`` and sorts the groups: 1.0 s (bench/results.md).
    PostgreSQL hashes the groups whatever the key looks like.
    """

    inherit_cache = False

    def __init__(self, column) -> None:
        self.column = column
        self.type = column.type


@compiles(_NotForOrder)
def _key(element: _NotForOrder, compiler, **kw) -> str:
    return compiler.process(element.column, **kw)


@compiles(_NotForOrder, "sqlite")
def _key_sqlite(element: _NotForOrder, compiler, **kw) -> str:
    return "+" + compiler.process(element.column, **kw)


def _filtered(stmt, period: Period):
    if period.source:
        stmt = stmt.where(col(Item.source) == period.source.value)
    if period.campaign:
        stmt = stmt.where(col(Item.campaign) == period.campaign)
    if period.type:
        stmt = stmt.where(col(Item.type) == period.type)
    return stmt


def _from_history(
    session: Session, caller: Caller, period: Period, column, start, end
) -> Iterator[tuple[object, dict[str, int]]]:
    """(group value, counts) of each of the caller's items reopened since ``start`` and
    created before ``end``, under the period's filters: the items ``_grouped``'s SQL
    leaves out. Each item's row with its history entries, oldest first: the ones that
    enter or leave a final state, and those that set its deadlines (the due date in
    force at ``end``)."""
    entry = HistoryEntry
    stmt = scoped(
        select(
            column.label("key"),
            col(Item.id),
            col(Item.created_at),
            col(Item.due_date),
            col(Item.closed_at),
            col(Item.resolution),
            col(Item.on_time),
            col(Item.workflow_name),
            col(Item.workflow_version),
            col(entry.at),
            col(entry.action),
            col(entry.from_state),
            col(entry.to_state),
            col(entry.data),
        ).outerjoin(entry, col(entry.item_id) == col(Item.id)),
        caller,
    ).where(col(Item.created_at) < end, col(Item.id).in_(reopened_since(start)))
    stmt = _filtered(stmt, period).order_by(col(Item.id), col(entry.seq))
    for _id, group in groupby(session.execute(stmt), key=lambda row: row.id):
        rows = list(group)  # the item's row once per entry
        entries = [row for row in rows if row.at is not None]
        yield rows[0].key, history_counts(rows[0], entries, period.to, start, end)


def _grouped(session: Session, caller: Caller, period: Period, column) -> dict:
    """{group value: counts} over the caller's items created before the period's end:
    those not reopened since its start from their rows (one range of ``ix_item_period``:
    every column read here, by ``created_at``), the others from their history
    (``_from_history``); with the callbacks made in the period (``_callbacks``)."""
    tz = get_settings().tz
    start = local_midnight_utc(period.from_, tz)
    end = local_midnight_utc(period.to + timedelta(days=1), tz)
    stmt = scoped(select(column.label("key"), *_counts(period, start, end)), caller)
    stmt = stmt.where(col(Item.created_at) < end, col(Item.id).not_in(reopened_since(start)))
    stmt = _filtered(stmt, period)
    rows = session.execute(stmt.group_by(_NotForOrder(column)))
    grouped = {row.key: {k: int(getattr(row, k)) for k in ITEM_COUNTS} for row in rows}
    for key, counts in _from_history(session, caller, period, column, start, end):
        into = grouped.setdefault(key, dict.fromkeys(ITEM_COUNTS, 0))
        for k in ITEM_COUNTS:
            into[k] += counts[k]
    zero = dict.fromkeys(CALLBACK_COUNTS, 0)
    for counts in grouped.values():
        counts.update(zero)
    for row in session.execute(_callbacks(caller, period, column, start, end)):
        # (an order called back in the period was created before its end: it has a row)
        grouped.setdefault(row.key, dict.fromkeys(COUNTS, 0)).update(
            {k: int(getattr(row, k)) for k in CALLBACK_COUNTS}
        )
    return grouped


def _ranked(groups: list[dict]) -> list[dict]:
    def order(g: dict):
        rate = g["rectification_rate"]
        return (rate is None, -(rate or 0), g["overdue_at_end"], str(g["key"]))

    groups.sort(key=order)
    for rank, g in enumerate(groups, start=1):
        g["rank"] = rank
    return groups


def _by_unit(session: Session, grouped: dict) -> list[dict]:
    units = {u.code: u for u in session.scalars(select(Unit))}

    def top(code: str) -> str:
        return units[code].path.strip("/").split("/")[0]

    def child_of(code: str) -> str | None:
        parts = units[code].path.strip("/").split("/")
        return parts[1] if len(parts) > 1 else None

    tops: dict[str, dict] = {}
    children: dict[str, dict[str, dict]] = {}
    for code, counts in grouped.items():
        if code is None or code not in units:
            continue
        _add(tops.setdefault(top(code), {}), counts)
        child = child_of(code)
        if child is not None:
            _add(children.setdefault(top(code), {}).setdefault(child, {}), counts)
    result = []
    for code, counts in tops.items():
        kids = [
            {"key": c, "label": units[c].name, **figures(k)}
            for c, k in children.get(code, {}).items()
        ]
        entry = {"key": code, "label": units[code].name, **figures(counts)}
        entry["children"] = _ranked(kids)
        result.append(entry)
    result = _ranked(result)
    if None in grouped:
        result.append(
            {
                "key": None,
                "label": UNASSIGNED_NAME,
                **figures(grouped[None]),
                "rank": None,
                "children": [],
            }
        )
    return result


def period_report(session: Session, caller: Caller, period: Period) -> dict:
    caller = with_unit_codes(session, caller)
    if period.group == Group.unit:
        grouped = _grouped(session, caller, period, col(Item.unit_code))
        groups = _by_unit(session, grouped)
    else:
        column, labels = (
            (col(Item.source), SOURCE_LABELS)
            if period.group == Group.source
            else (col(Item.type), type_labels())
        )
        grouped = _grouped(session, caller, period, column)
        order = list(labels)
        groups = [
            {"key": key, "label": labels.get(key, key or NO_TYPE), **figures(counts)}
            for key, counts in sorted(
                grouped.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
            )
        ]
    totals: dict[str, int] = dict.fromkeys(COUNTS, 0)
    for counts in grouped.values():
        _add(totals, counts)
    return {
        "from": period.from_.isoformat(),
        "to": period.to.isoformat(),
        "group": period.group.value,
        "groups": groups,
        "totals": figures(totals),
    }


MAX_CIRCULAR_ITEMS = 1000


def _running_due(row) -> date | None:
    """The date of the deadline the item's level is on: the sign-off date while it
    waits to be signed for (``assigned``), else its due date."""
    running = running_deadline(row, registry.get(row.workflow_name, row.workflow_version))
    return running[1] if running else row.due_date


def circular(
    session: Session, caller: Caller, min_level: int = 2, limit: int = MAX_CIRCULAR_ITEMS
) -> dict:
    """Open items at ``min_level`` or above now, by lead unit (most items first); at
    most ``limit`` items, the highest levels and oldest due dates first (``total``
    says how many there are, ``truncated`` whether some were left out).

    Level by level from the highest, each ``ORDER BY due_date, id LIMIT`` what is
    still wanted: the first entries of a range of ``ix_item_open_level`` rather
    than a sort of every open item at those levels (there are few levels)."""
    caller = with_unit_codes(session, caller)
    stmt = scoped(
        select(
            col(Item.id),
            col(Item.number),
            col(Item.title),
            col(Item.due_date),
            col(Item.escalation_level),
            col(Item.unit_code),
            col(Unit.name),
            col(Item.state),
            col(Item.accept_due_date),
            col(Item.workflow_name),
            col(Item.workflow_version),
        ).outerjoin(Unit, col(Unit.code) == col(Item.unit_code)),
        caller,
    ).where(col(Item.closed_at).is_(None), col(Item.escalation_level) >= min_level)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    assert total is not None  # COUNT(*) without GROUP BY always returns one row
    top = session.scalar(
        select(func.max(col(Item.escalation_level))).where(col(Item.closed_at).is_(None))
    )
    rows: list = []
    for level in range(top if top is not None else min_level - 1, min_level - 1, -1):
        if len(rows) >= limit:
            break
        at_level = stmt.where(col(Item.escalation_level) == level).order_by(
            col(Item.due_date), col(Item.id)
        )
        rows += session.execute(at_level.limit(limit - len(rows))).all()
    calendar, day = load_calendar(session), today(session)
    late_by: dict[date, int] = {}
    units: dict[str | None, dict] = {}
    dated = [(row, _running_due(row)) for row in rows]
    dated.sort(key=lambda got: (-got[0].escalation_level, got[1] or date.max, got[0].id))
    for row, due in dated:
        unit = units.setdefault(
            row.unit_code,
            {"unit_code": row.unit_code, "name": row.name or UNASSIGNED_NAME, "items": []},
        )
        late = 0
        if due and due < day:
            if due not in late_by:
                late_by[due] = len(calendar.workdays_between(due + timedelta(days=1), day))
            late = late_by[due]
        unit["items"].append(
            {
                "id": row.id,
                "number": row.number,
                "title": row.title,
                "due_date": due.isoformat() if due else None,
                "workdays_overdue": late,
                "level": row.escalation_level,
            }
        )
    data = sorted(units.values(), key=lambda u: (-len(u["items"]), u["unit_code"] or ""))
    shown = sum(len(u["items"]) for u in data)
    return {"min_level": min_level, "data": data, "total": total, "truncated": shown < total}
