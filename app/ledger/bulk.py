"""Write many new items at once: ids reserved up front, rows inserted in bulk.

Each item goes through the same steps as ``POST /items`` followed by the
workflow's ``assign`` (``transitions.apply``: effects, deadlines, history,
events) and ``POST /items/{id}/measures`` for each of its measures
(``app.plans.service``: the same rules, history entries and events) on an
in-memory item; only the writes are batched -- one multi-row INSERT per
``CHUNK`` items, and one each for their co-units, measures and history
entries, events through the outbox's queue -- instead of several statements
per item. Co-units and the people (责任人, 责任领导) are part of the item as
created, and named in its ``create`` history entry.
"""

from dataclasses import dataclass, field
from datetime import date

from pydantic_core import PydanticUndefined
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.auth.service import Caller
from app.clock import now
from app.db import is_postgres, table_of
from app.deadlines.store import load_calendar
from app.errors import Conflict
from app.items import history
from app.items.models import HistoryEntry, Item
from app.items.schemas import ItemCreate
from app.items.service import item_number, new_item_columns, workflow_for
from app.items.transitions import apply
from app.items.writer import column_values, emit_item_event
from app.kit.executemany import FastInsert
from app.kit.standin import stand_in
from app.plans.co_units import link_rows
from app.plans.models import ItemCoUnit, Measure
from app.plans.schemas import MeasureCreate
from app.plans.service import new_measure, record_new_measures
from app.units.models import Unit

CHUNK = 1000
_MEASURE_COLUMNS = tuple(table_of(Measure).c.keys())


_INSERT = FastInsert(table_of(Item))
_INSERT_CO_UNITS = FastInsert(table_of(ItemCoUnit))
_INSERT_MEASURES = FastInsert(table_of(Measure))
_INSERT_HISTORY = FastInsert(table_of(HistoryEntry))
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"


def _column_defaults() -> dict:
    found = {}
    for name in table_of(Item).c.keys():  # noqa: SIM118 - column names
        spec = Item.model_fields.get(name)
        default = None if spec is None else spec.get_default(call_default_factory=True)
        found[name] = None if default is PydanticUndefined else default
    return found


_DEFAULTS = _column_defaults()
_LIST_DEFAULTS = tuple(k for k, v in _DEFAULTS.items() if isinstance(v, list))


@dataclass
class NewItem:
    row: int
    create: ItemCreate
    unit_code: str | None = None
    due_date: date | None = None
    co_unit_codes: list[str] = field(default_factory=list)
    people: dict[str, str | None] = field(default_factory=dict)
    measures: list[MeasureCreate] = field(default_factory=list)


def reserve_ids(session: Session, n: int, model=Item) -> list[int]:
    """``n`` ids of ``model``'s table nobody else will take: from the sequence on
    PostgreSQL; on SQLite the ones after the highest (the write transaction holds the
    database's lock)."""
    if n == 0:
        return []
    if is_postgres(session):
        stmt = text(_NEXT_IDS.format(table=model.__tablename__))
        return list(session.scalars(stmt, {"n": n}))
    top = session.scalar(select(model.id).order_by(model.id.desc()).limit(1)) or 0
    return list(range(top + 1, top + 1 + n))


def _build(
    session: Session,
    caller: Caller,
    new: NewItem,
    item_id: int,
    calendar,
    measure_ids: list[int],
    measures: list[Measure],
):
    """The new item as a plain object with the row's columns (an ORM instance costs
    more to build than everything else done for it); its measures are appended to
    ``measures``, taking their ids from ``measure_ids``."""
    data = new.create
    wf = workflow_for(data)
    moment = now(session)
    columns = dict(
        id=item_id,
        number=item_number(moment, item_id),
        **new_item_columns(data, moment),
        co_unit_codes=list(new.co_unit_codes),
        **new.people,
    )
    values = _DEFAULTS | dict.fromkeys(_LIST_DEFAULTS) | columns
    for key in _LIST_DEFAULTS:  # fresh lists, as the default factories give
        if values[key] is None:
            values[key] = []
    item = stand_in(Item, **values)
    named = {"co_unit_codes": item.co_unit_codes, **new.people}
    history.append(
        session,
        item,
        at=moment,
        actor=caller.actor,
        action="create",
        from_state=None,
        to_state=item.state,
        data={k: v for k, v in named.items() if v} or None,
    )
    emit_item_event(session, "item.created", item, moment, actor=caller.identity())
    if new.unit_code:
        fields = {"unit_code": new.unit_code, "due_date": new.due_date, "comment": None}
        apply(session, caller, item, wf, wf.action("assign"), fields, calendar)
    if new.measures:
        built = []
        for seq, spec in enumerate(new.measures, start=1):
            measure = new_measure(item, spec, seq=seq, moment=moment, calendar=calendar)
            measure.id = measure_ids.pop()
            built.append(measure)
        record_new_measures(session, item, built, at=moment, by=caller)
        measures += built
    return item


def create_items(session: Session, caller: Caller, rows: list[NewItem]) -> None:
    """Create (and assign) every row's item, ``CHUNK`` at a time."""
    if not rows:
        return
    calendar = load_calendar(session)
    # Held so the session's identity map keeps them: the assign effect looks each unit up.
    units = list(session.scalars(select(Unit)))
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        ids = reserve_ids(session, len(chunk))
        measure_ids = reserve_ids(session, sum(len(n.measures) for n in chunk), Measure)
        measure_ids.reverse()
        measures: list[Measure] = []
        with history.buffered(session) as entries:
            items = [
                _build(session, caller, new, item_id, calendar, measure_ids, measures)
                for new, item_id in zip(chunk, ids, strict=True)
            ]
        try:
            _INSERT.execute(session, [column_values(i) for i in items])
        except IntegrityError:
            raise Conflict(
                "Another request used one of the file's 外部编号 (external_ref) while it was "
                "being checked; nothing was imported. Import the file again."
            ) from None
        _INSERT_CO_UNITS.execute(session, link_rows(items))
        _INSERT_MEASURES.execute(
            session, [{c: getattr(m, c) for c in _MEASURE_COLUMNS} for m in measures]
        )
        _INSERT_HISTORY.execute(session, entries)
    del units
