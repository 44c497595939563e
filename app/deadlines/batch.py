"""The scan's work on one batch of due items, as set work.

The rules are the single item's (``ladder.advance`` then ``schedule.refresh``:
each step once, only the highest of several passed steps fires, lights and
``next_check_at``); what differs is how the batch computes and writes.

The rules read only a few columns of an item (its workflow, state, deadline
dates, the ladder's place and the levels it raises), and a batch's items share
them: one deadline, one step. So they run once per distinct set of those
columns (a ``_Shape``), and so does everything that follows from the step
alone: the history entry's data and the text its hash is taken over, the
event's data, the columns' values as the driver takes them. What is left per
item is filling in its id, chain head and version: its history hash and the
head's HMAC, and its event's ``item`` (``fast_json.item_text``, the text
``item_json`` gives, without a model per item).

The batch's writes are a few statements per step that fires (``bulk.Bulk``): an
UPDATE of its items, one of the items whose light or next check alone moved,
an INSERT of the history entries, and one INSERT of the batch's events, in the
items' order. An UPDATE sets only the columns the rules move for some of its
items (``_update``): a column set to the value it holds still costs SQLite the
rewrite of every index over it (``escalation_level`` has two, and a reminder
leaves it as it is). The events are the rows ``outbox.emit`` writes, their ``data``
encoded here (the encoding is the costly part, and it is the same text for the
step's part of every item). On PostgreSQL the statements go through a pipeline,
a part of the batch at a time (``PART``), so the server writes one part while
the next is computed.

The caller holds the rows' locks (``FOR UPDATE SKIP LOCKED``, or SQLite's one
writer), so writing the computed values back is safe.
"""

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, cast, null, type_coerce
from sqlalchemy.types import NullType
from sqlmodel import Session

from app.db import table_of
from app.deadlines.bulk import Bulk, Writer
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.ladder import SYSTEM_ACTOR, advance, event_data
from app.deadlines.schedule import refresh
from app.events.models import Event
from app.events.outbox import event_ids
from app.items import history
from app.items.anchor import head_macs, history_key
from app.items.fast_json import COLUMNS, event_head, item_text
from app.items.models import HistoryEntry, Item
from app.workflow.registry import registry

_TABLE = table_of(Item)
_AT = {name: i for i, name in enumerate(COLUMNS)}

RULES_READ = (
    "workflow_name",
    "workflow_version",
    "state",
    "due_date",
    "accept_due_date",
    "review_pending",
    "ladder_fired",
    "escalation_level",
    "max_escalation_level",
    "was_overdue",
    "rectify_was_overdue",
)
"""The columns that decide what the ladder rules do to an item (the last two are
only set, never read: their values after the rules follow from these)."""

MOVED = (
    "ladder_fired",
    "escalation_level",
    "max_escalation_level",
    "was_overdue",
    "rectify_was_overdue",
    "light",
    "next_check_at",
)
"""The columns the rules move."""

SHOWN = ("light", "escalation_level", "max_escalation_level", "was_overdue")
"""The moved columns the event's ``item`` shows: as the step left them, before
``refresh`` (the single-item path renders the item as its change wrote it)."""

STEPPED = ("version", "history_seq", "history_hash", "history_mac")
"""The columns a fired step's change moves besides (the item writer's), with ``updated_at``."""

WRITTEN = (*MOVED, *STEPPED, "updated_at")
"""The item columns the ladder and the history chain move."""


_UPDATES: dict[tuple[str, ...], tuple[Bulk, Bulk]] = {}


def _updates(written: tuple[str, ...]) -> tuple[Bulk, Bulk]:
    """The UPDATEs that set the columns ``written`` (of ``MOVED``), made once per
    distinct set: the one of items whose step fired (the moment; the step's values, the
    item's version and head) and the one of items whose light or next check alone moved."""
    got = _UPDATES.get(written)
    if got is None:
        got = _UPDATES[written] = (
            Bulk(_TABLE, ("updated_at",), (*written, *STEPPED), key="id"),
            Bulk(_TABLE, (), written, key="id"),
        )
    return got


_FIRE = _updates(MOVED)[0]
"""The UPDATE of fired items writing every moved column: it converts the batch's moment."""
_HISTORY = Bulk(
    table_of(HistoryEntry),
    ("at", "actor", "comment"),
    ("action", "from_state", "to_state", "item_id", "seq", "prev_hash", "hash", "data"),
    texts=1,
)
_EVENTS = Bulk(
    table_of(Event),
    ("time", "dispatched"),
    ("event_id", "type", "subject", "item_id", "unit_code", "co_unit_codes", "data"),
    texts=1,
)
"""One statement for the batch's events, in the items' order (``emit``'s)."""

LISTS = ("tags", "co_unit_codes")
"""JSON list columns: read as their text (``fast_json`` decodes each distinct one once;
psycopg would decode every row's, a third of the scan's CPU on PostgreSQL)."""


UNREAD = ("updated_at", "review_requested_at", "ladder_deadline", "evidence_floor", "history_mac")
"""Columns the batch neither decides by nor shows (``updated_at`` it sets): read as NULL,
so that their values are neither sent nor converted (two of them are datetimes)."""


STORED = ("next_check_at", "created_at", "closed_at")
"""Moments read as the driver gives them (SQLite's stored text, psycopg's datetime in
the session's time zone), without their result processor (``UTCDateTime``'s, in
Python: a tenth of the scan's CPU on SQLite). The batch converts them where it needs
them (``_moments``): ``next_check_at`` of an item whose step does not fire and of the
batch's last item (``resume_key``), the other two for the event's item."""


def due_columns(table=_TABLE) -> list:
    """The item table's columns as the batch reads them, in the table's order."""

    def read(c):
        if c.name in UNREAD:
            return null().label(c.name)
        if c.name in LISTS:
            return cast(c, Text).label(c.name)
        if c.name in STORED:
            return type_coerce(c, NullType()).label(c.name)
        return c

    return [read(c) for c in table.c]


def _moments(dialect) -> Callable[[Any], Any]:
    """``value`` of a ``STORED`` column, as a row of the batch holds it, as SQLAlchemy
    reads it: by the column's result processor, once per distinct value."""
    process = _TABLE.c[STORED[0]].type._cached_result_processor(dialect, None)  # all three's
    assert process is not None  # UTCDateTime's
    memo: dict = {None: None}

    def moment(value):
        got = memo.get(value, memo)
        if got is memo:
            got = memo[value] = process(value)
        return got

    return moment


def resume_key(row, dialect) -> tuple[datetime, int]:
    """(``next_check_at``, ``id``) of a batch's row: where the next batch starts."""
    return _moments(dialect)(row[_AT["next_check_at"]]), row[_AT["id"]]


class _Rules:
    """The columns the ladder rules read and move, and no other: a rule that read
    another would fail here, not be applied to items that differ in it."""

    __slots__ = RULES_READ + ("light", "next_check_at")

    def __init__(self, values: tuple) -> None:
        for name, value in zip(RULES_READ, values, strict=True):
            setattr(self, name, value)


@dataclass(slots=True, eq=False)
class _Shape:
    """What the rules do to every item with the same ``RULES_READ`` values."""

    moved: tuple
    """``MOVED``'s values after the rules."""
    moved_row: tuple
    """The same, as the driver takes them (``_update``)."""
    written: frozenset[str]
    """The columns of ``MOVED`` the rules move: ``light`` and ``next_check_at``, and those
    of ``RULES_READ`` whose value they change (the rest hold ``moved`` already)."""
    step: str | None = None
    """The step that fires, if one does."""
    shown: tuple = ()
    """(column index, value) of ``SHOWN`` for the event's item."""
    entry: tuple = ()
    """The history entry's values but the item's (``_HISTORY``: action, states)."""
    entry_data: str = ""
    """The entry's ``data`` as its JSON text."""
    hash_of: Any = None
    """``history.chain_hasher`` of the entry: (item id, seq, previous hash) -> hash."""
    event_type: str | None = None
    event_head: str = ""
    """The event's data as JSON text up to its item: ``{"deadline": ..., "item": ``."""


_RULES_KEY = itemgetter(*(_AT[name] for name in RULES_READ))
_READ_AT = {name: i for i, name in enumerate(RULES_READ)}
_MOVED_NOW = itemgetter(*(_AT[name] for name in MOVED))
_NEXT_CHECK = MOVED.index("next_check_at")
_ID, _VERSION, _UPDATED_AT = _AT["id"], _AT["version"], _AT["updated_at"]
_CREATED, _CLOSED = _AT["created_at"], _AT["closed_at"]
_SEQ, _HASH = _AT["history_seq"], _AT["history_hash"]
_UNIT, _CO_UNITS = _AT["unit_code"], _AT["co_unit_codes"]


PART = 100
"""On PostgreSQL the batch is written a part of this many items at a time: the server
writes one part while the next is computed (``bulk.Writer``)."""


def fire_batch(
    session: Session, rows, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime
) -> Counter[str]:
    """Fire the due steps of ``rows`` (locked item rows, all the table's columns in its
    order: ``due_columns``) and write the batch: the names of the steps fired, counted."""
    conn = session.connection()
    dialect = conn.dialect
    fired_names: Counter[str] = Counter()
    shapes: dict[tuple, _Shape] = {}
    mac_of = head_macs(history_key())
    moment = _moments(dialect)
    stepped = (_FIRE.convert(dialect, "updated_at", now),)
    noted = tuple(
        _HISTORY.convert(dialect, n, v)
        for n, v in zip(_HISTORY.constant, (now, SYSTEM_ACTOR, None), strict=True)
    )
    sent = (_EVENTS.convert(dialect, "time", now), _EVENTS.convert(dialect, "dispatched", False))
    with Writer(conn) as writer:
        part = PART if writer.pipelined else max(len(rows), 1)
        for start in range(0, len(rows), part):
            fires: list[tuple[_Shape, tuple]] = []
            moves: list[tuple[_Shape, tuple]] = []
            entries: list[tuple] = []
            shown_items: list[tuple] = []
            for row in rows[start : start + part]:
                rules_key = _RULES_KEY(row)
                shape = shapes.get(rules_key)
                if shape is None:
                    shape = shapes[rules_key] = _shape(rules_key, cal, tz, now, dialect)
                item_id = row[_ID]
                if shape.step is None:
                    moved_now = list(_MOVED_NOW(row))
                    moved_now[_NEXT_CHECK] = moment(moved_now[_NEXT_CHECK])
                    if tuple(moved_now) != shape.moved:
                        moves.append((shape, (item_id,)))
                    continue
                fired_names[shape.step] += 1
                version, seq, prev = row[_VERSION] + 1, row[_SEQ] + 1, row[_HASH]
                head = shape.hash_of(item_id, seq, prev)
                mac = mac_of(item_id, seq, head)
                fires.append((shape, (version, seq, head, mac, item_id)))
                entries.append((*shape.entry, item_id, seq, prev, head, shape.entry_data))
                if shape.event_type is not None:
                    shown_items.append((row, shape, version))
            _update(writer, fires, stepped, fired=True)
            _update(writer, moves, (), fired=False)
            _HISTORY.run(writer, noted, entries)
            # The events last: their items' JSON, the costliest part, is made while the
            # server writes the items and their history.
            _EVENTS.run(writer, sent, _events(shown_items, now, dialect, moment))
    return fired_names


def _update(
    writer: Writer, rows: list[tuple[_Shape, tuple]], constants: tuple, fired: bool
) -> None:
    """UPDATE the items of ``rows`` ((shape, the row's values after the moved ones) each),
    all with one statement (``_updates``: ``fired`` or not): it sets the moved columns
    that some of the shapes move. A column none of them moves holds its value already
    in every row; one that only some move is set to what it holds in the others."""
    if not rows:
        return
    shapes = {shape for shape, _rest in rows}
    moving = frozenset().union(*(shape.written for shape in shapes))
    names = tuple(name for name in MOVED if name in moving)
    statement = _updates(names)[0 if fired else 1]
    at = [MOVED.index(name) for name in names]
    start = {shape: tuple(shape.moved_row[i] for i in at) for shape in shapes}
    statement.run(writer, constants, [(*start[shape], *rest) for shape, rest in rows])


def _events(shown_items: list[tuple], now: datetime, dialect, moment) -> list[tuple]:
    """The event rows (``_EVENTS``' varying values) of the items whose step sends one:
    (row, shape, new version) each; ``moment`` reads their ``STORED`` columns."""
    ids = event_ids(len(shown_items))
    co_units: dict = {}
    events = []
    for row, shape, version in shown_items:
        shown = list(row)
        shown[_VERSION], shown[_UPDATED_AT] = version, now
        shown[_CREATED], shown[_CLOSED] = moment(row[_CREATED]), moment(row[_CLOSED])
        for index, value in shape.shown:
            shown[index] = value
        raw_co = row[_CO_UNITS]
        co = co_units.get(raw_co)
        if co is None:
            co = co_units[raw_co] = _event_co_units(raw_co, dialect)
        item_id = row[_ID]
        events.append(
            (
                ids.pop(),
                shape.event_type,
                f"items/{item_id}",
                item_id,
                row[_UNIT],
                co,
                f"{shape.event_head}{item_text(shown)}}}",
            )
        )
    return events


def _shape(rules_key: tuple, cal, tz, now: datetime, dialect) -> _Shape:
    """Run the rules once for the items whose ``RULES_READ`` values are ``rules_key``."""
    wf = registry.get(rules_key[0], rules_key[1])
    item = _Rules(rules_key)
    fired = advance(item, wf, cal, tz, now)
    shown = tuple((_AT[name], getattr(item, name, None)) for name in SHOWN)
    refresh(item, wf, cal, tz, now)
    moved = tuple(getattr(item, name) for name in MOVED)
    written = frozenset(
        name
        for name, value in zip(MOVED, moved, strict=True)
        if name not in _READ_AT or value != rules_key[_READ_AT[name]]
    )
    shape = _Shape(moved, _FIRE.row_of(dialect, MOVED, moved), written)
    if fired is None:
        return shape
    shape.step = fired.step.name
    shape.shown = shown
    state = rules_key[RULES_READ.index("state")]
    shape.entry = _HISTORY.row_of(
        dialect, ("action", "from_state", "to_state"), (fired.step.name, state, state)
    )
    shape.entry_data = _HISTORY.convert(dialect, "data", fired.data)
    shape.hash_of = history.chain_hasher(
        at=now,
        actor=SYSTEM_ACTOR,
        action=fired.step.name,
        from_state=state,
        to_state=state,
        data=fired.data,
    )
    data = event_data(fired)
    if data is not None:
        # The event's data is the step's, then the item (``emit_item_event``'s order).
        shape.event_type = fired.step.event
        shape.event_head = event_head(data)
    return shape


def _event_co_units(raw: str, dialect):
    """An event's ``co_unit_codes`` (``emit``: the item's, or none), as the driver takes
    it, from the item row's JSON text."""
    return _EVENTS.convert(dialect, "co_unit_codes", json.loads(raw) or None)
