"""A reopened item's closures, from its history: what the period report counts it by.

A reopen (回头看) clears the row's ``closed_at``, ``resolution`` and ``on_time``, so the
row no longer tells when the item was closed before, nor how: its history does (the
entries that enter a final state, and the reopens that leave it). ``app.ledger.period``
counts the items reopened since a period's start (``reopened_since``) by these.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import literal_column, select
from sqlmodel import col

from app.items.models import HistoryEntry
from app.workflow.definition import Workflow
from app.workflow.effects import RESOLVES
from app.workflow.registry import registry


def reopened_since(start):
    """The ids of the items reopened at or after ``start``: a range of the partial
    ``ix_history_reopen`` (every workflow leaves a final state by ``reopen`` only)."""
    entry = HistoryEntry
    return select(col(entry.item_id)).where(
        # a literal, as the partial index says it: SQLite uses the index only then
        col(entry.action) == literal_column("'reopen'"),
        col(entry.at) >= start,
    )


@dataclass
class _Closure:
    """One closure of a reopened item: when, how, and when it was undone."""

    at: datetime
    resolution: str | None
    on_time: bool | None = None
    reopened_at: datetime | None = None


def _resolution(wf: Workflow, action: str, state: str) -> str | None:
    """The resolution the action's effects give on the way to ``state``: its history
    entry does not record it."""
    act = wf.action(action)
    targets = act.targets() if act is not None else []
    effects = [e for t in targets if t.to == state for e in t.effects]
    return next((RESOLVES[e] for e in effects if e in RESOLVES), None)


def _closures(row, moves: list) -> list[_Closure]:
    """The item's closures, oldest first, from its entries that enter or leave a final
    state (``moves``, in ``seq`` order).

    The closure in force now is the row's: its ``resolution`` and ``on_time``. A closure
    undone by a reopen has the resolution and the on-time verdict the reopen's entry
    recorded as it cleared them (``previous_resolution``, ``previous_on_time``). A
    reopen's entry written before reopens recorded them gives its closure the
    resolution of the closing action's effects in the item's workflow (the closing
    entry does not name it), and no verdict: that closure is left out of ``on_time``
    and ``on_time_base`` alike, as a closure without a due date is, rather than given
    a verdict the service never made (it weighed the due date in force then and
    whether the rectify deadline had ever gone red, which the history does not hold
    as such)."""
    wf = registry.get(row.workflow_name, row.workflow_version)
    closures: list[_Closure] = []
    for move in moves:
        if wf.state(move.to_state).final and not wf.state(move.from_state).final:
            closures.append(_Closure(move.at, _resolution(wf, move.action, move.to_state)))
        elif wf.state(move.from_state).final and closures:  # a reopen
            undone, data = closures[-1], move.data or {}
            undone.reopened_at = move.at
            undone.resolution = data.get("previous_resolution", undone.resolution)
            undone.on_time = data.get("previous_on_time")
    if closures and closures[-1].reopened_at is None and row.closed_at is not None:
        closures[-1].resolution, closures[-1].on_time = row.resolution, row.on_time
    return closures


def _due_at(row, entries: list, end) -> date | None:
    """The due date in force at ``end``: as the last entry before it that set the item's
    deadlines recorded them (``deadline_dates``: ``due_date`` beside ``accept_due_date``;
    an extension request names only the date it asks for, a measure its own). A reopen
    since sets a new one, so the row's is the answer only for an item whose history
    records none (written before entries recorded them)."""
    recorded, due = False, None
    for entry in entries:
        data = entry.data or {}
        if "accept_due_date" not in data:
            continue
        recorded = True
        if entry.at >= end:
            break
        due = data.get("due_date") and date.fromisoformat(data["due_date"])
    return due if recorded else row.due_date


def history_counts(row, entries: list, to: date, start, end) -> dict[str, int]:
    """``ITEM_COUNTS`` of one reopened item, by its closures (``_closures``) and the due
    date in force at ``end`` (``_due_at``); ``entries``: its history, oldest first."""
    moves = [e for e in entries if e.from_state and e.to_state and e.from_state != e.to_state]
    closures = _closures(row, moves)
    in_period = [c for c in closures if start <= c.at < end]
    rectified = [c for c in in_period if c.resolution == "rectified"]
    before_end = [c for c in closures if c.at < end]
    at_end = before_end[-1] if before_end else None
    if at_end is not None and at_end.reopened_at is not None and at_end.reopened_at < end:
        at_end = None
    is_open = at_end is None
    due = _due_at(row, entries, end) if is_open else None
    # the period's latest rectification gives its verdict: an item counts once
    verdict = rectified[-1].on_time if rectified else None
    counts = {
        "new": row.created_at >= start,
        "closed": bool(in_period),
        "rectified": bool(rectified),
        "open_at_end": is_open,
        "overdue_at_end": is_open and due is not None and due < to,
        "cumulative_rectified": at_end is not None and at_end.resolution == "rectified",
        "on_time": verdict is True,
        "on_time_base": verdict is not None,
    }
    return {k: int(v) for k, v in counts.items()}
