"""Write many new items at once: ids reserved up front, rows inserted in bulk.

Each item goes through the same steps as ``POST /items`` followed by the
workflow's ``assign`` (``transitions.apply``: effects, deadlines, history,
events) on an in-memory item; only the writes are batched -- one multi-row
INSERT per ``CHUNK`` items and their history entries, events through the
outbox's queue -- instead of several statements per item.
"""

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import cast

from pydantic_core import PydanticUndefined
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.auth.service import Caller
from app.clock import now
from app.db import is_postgres, table_of
from app.deadlines.store import load_calendar
from app.errors import Conflict
from app.items import history
from app.items.models import Item
from app.items.schemas import ItemCreate
from app.items.service import (
    column_values,
    emit_item_event,
    item_number,
    order_type,
    workflow_for,
)
from app.items.transitions import apply
from app.units.models import Unit

CHUNK = 1000
_INSERT = insert(table_of(Item))
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence('item', 'id')) FROM generate_series(1, :n)")


def _column_defaults() -> dict:
    found = {}
    for name in table_of(Item).c.keys():  # noqa: SIM118 - column names
        spec = Item.model_fields.get(name)
        default = None if spec is None else spec.get_default(call_default_factory=True)
        found[name] = None if default is PydanticUndefined else default
    return found


_DEFAULTS = _column_defaults()


@dataclass
class NewItem:
    row: int
    create: ItemCreate
    unit_code: str | None = None
    due_date: date | None = None


def reserve_ids(session: Session, n: int) -> list[int]:
    """``n`` item ids nobody else will take: from the sequence on PostgreSQL; on SQLite
    the ones after the highest (the write transaction holds the database's lock)."""
    if is_postgres(session):
        return list(session.scalars(_NEXT_IDS, {"n": n}))
    top = session.scalar(select(col(Item.id)).order_by(col(Item.id).desc()).limit(1)) or 0
    return list(range(top + 1, top + 1 + n))


def _build(session: Session, caller: Caller, new: NewItem, item_id: int, calendar):
    """The new item as a plain object with the row's columns (an ORM instance costs
    more to build than everything else done for it)."""
    data = new.create
    wf = workflow_for(data)
    moment = now(session)
    columns = dict(
        id=item_id,
        number=item_number(moment, item_id),
        title=data.title,
        description=data.description,
        source=data.source.value,
        category=data.category,
        severity=data.severity.value,
        campaign=data.campaign,
        tags=list(data.tags),
        external_ref=data.external_ref,
        type=order_type(wf, data),
        state=wf.initial,
        workflow_name=wf.name,
        workflow_version=wf.version,
        created_at=moment,
        updated_at=moment,
    )
    defaults = {k: (list(v) if isinstance(v, list) else v) for k, v in _DEFAULTS.items()}
    # a stand-in with the row's columns, read like an Item and never flushed
    item = cast(Item, SimpleNamespace(**(defaults | columns)))
    history.append(
        session,
        item,
        at=moment,
        actor=caller.actor,
        action="create",
        from_state=None,
        to_state=item.state,
    )
    emit_item_event(session, "item.created", item, moment, actor=caller.identity())
    if new.unit_code:
        fields = {"unit_code": new.unit_code, "due_date": new.due_date, "comment": None}
        apply(session, caller, item, wf, wf.action("assign"), fields, calendar)
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
        with history.buffered(session) as entries:
            items = [
                _build(session, caller, new, item_id, calendar)
                for new, item_id in zip(chunk, ids, strict=True)
            ]
        try:
            session.connection().execute(_INSERT, [column_values(i) for i in items])
        except IntegrityError:
            raise Conflict(
                "Another request used one of the file's 外部编号 (external_ref) while it was "
                "being checked; nothing was imported. Import the file again."
            ) from None
        history.insert_rows(session, entries)
    del units
