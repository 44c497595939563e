"""The one way an item changes (DESIGN.md, "One writer for an item").

    item, lead = load(session, caller, item_id, lock=True)   # the row, locked, in scope
    with change(session, item, at=moment) as c:
        item.due_date = ...                                   # the block changes fields
        c.record("escalate", actor=..., data=...)             # its history entry
        c.emit("item.escalated", actor=..., **data)           # its events

On leaving the block, and only when it did not raise, the writer bumps
``version`` and ``updated_at``, appends the history entry (which moves the
chain head the row carries), writes the row, then queues the events with the
item as written. The order is the writer's, not the caller's: the history
entry before the row write, the events after it, one version step a change.

How the row is written (``write``):

- ``"update"``: one UPDATE of the columns that changed, then the item is
  detached. The ORM's flush costs about as much as the rest of a transition's
  writes together; detached, the object is not flushed a second time at commit
  and still serves the response. Code that goes on changing it re-reads it.
  The history entry, the row and the events go out as driver statements, on
  PostgreSQL in one round trip (``_together``), and the events are inserted
  then rather than at commit.
- ``"flush"``: the session's flush (the item stays attached: measures change
  it several times in one transaction).
- ``"later"``: not here; the session's flush writes it with others (the
  deadline scan flushes a batch at once; the original of a merge) or the
  caller inserts it (a bulk import's new items).
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, or_, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from app.auth.service import Caller
from app.db import JsonText, table_of
from app.errors import Forbidden, NotFound, PreconditionFailed
from app.events.outbox import emit, write_queued
from app.items import history
from app.items.fast_json import COLUMNS, event_head, item_text
from app.items.models import Item
from app.items.schemas import public_json
from app.items.scope import lead_and_co_unit
from app.kit import etag
from app.kit.executemany import ExecuteMany
from app.kit.scope import unit_path_or_none
from app.units.service import subtree_codes_like, subtree_pattern

Write = Literal["update", "flush", "later"]
_ITEMS = table_of(Item)
_COLUMNS = tuple(_ITEMS.c.keys())
assert _COLUMNS == COLUMNS  # fast_json indexes the values in the table's order


def _item_query(lock: bool, in_subtree: bool):
    if in_subtree:
        lead, co = lead_and_co_unit(subtree_codes_like(bindparam("subtree")))
        stmt = select(Item, lead.label("lead")).where(or_(lead, co))
    else:
        stmt = select(Item, true().label("lead"))
    stmt = stmt.where(col(Item.id) == bindparam("item_id"))
    if lock:
        stmt = stmt.with_for_update(of=Item).execution_options(populate_existing=True)
    return stmt


# Every request on one item reads it: the four forms are built once.
_ITEM_QUERIES = {
    (lock, in_subtree): _item_query(lock, in_subtree)
    for lock in (False, True)
    for in_subtree in (False, True)
}


def get_item_as(
    session: Session, caller: Caller, item_id: int, *, lock: bool = False
) -> tuple[Item, bool]:
    """The item if the caller may see it (404 otherwise), and whether the caller acts
    for its lead unit (always for roles not bound to a unit; a unit key whose subtree
    holds only a co-unit does not). ``lock`` takes the item's row lock.

    One statement: the scope (``app.items.scope``) on the unit paths, as a subquery."""
    params: dict = {"item_id": item_id}
    in_subtree = caller.scoped
    if in_subtree:
        params["subtree"] = subtree_pattern(unit_path_or_none(caller.unit_path))
    row = session.execute(_ITEM_QUERIES[lock, in_subtree], params).first()
    if row is None:
        raise NotFound(f"No item with id {item_id}.")
    return row[0], bool(row[1])


def _row_query(in_subtree: bool):
    """``_item_query(lock=True, ...)`` as a Core statement: the item's columns and ``lead``."""
    if in_subtree:
        lead, co = lead_and_co_unit(subtree_codes_like(bindparam("subtree")))
        stmt = select(*_ITEMS.c, lead.label("lead")).where(or_(lead, co))
    else:
        stmt = select(*_ITEMS.c, true().label("lead"))
    return stmt.where(_ITEMS.c.id == bindparam("item_id")).with_for_update(of=_ITEMS)


_ROW_QUERIES = {in_subtree: _row_query(in_subtree) for in_subtree in (False, True)}
_NEW_ITEM = Item._sa_class_manager.new_instance  # type: ignore[attr-defined]


def get_item_to_change(session: Session, caller: Caller, item_id: int) -> tuple[Item, bool]:
    """``get_item_as(lock=True)`` for a change the writer writes itself
    (``change(write="update")``): the locked row as an item outside the session, as
    the ORM would have loaded it, read through Core at half the ORM's cost. Outside
    the session it is never flushed (the writer's one UPDATE writes it), which is what
    ``change`` made of a loaded item anyway, by expunging it."""
    params: dict = {"item_id": item_id}
    in_subtree = caller.scoped
    if in_subtree:
        params["subtree"] = subtree_pattern(unit_path_or_none(caller.unit_path))
    row = session.connection().execute(_ROW_QUERIES[in_subtree], params).first()
    if row is None:
        raise NotFound(f"No item with id {item_id}.")
    item = _NEW_ITEM()
    vars(item).update(zip(_COLUMNS, row, strict=False))  # the row's last value is ``lead``
    return item, bool(row[-1])


def get_item(session: Session, caller: Caller, item_id: int, *, lock: bool = False) -> Item:
    """The item if the caller may see it (lead or co-unit scope); 404 otherwise."""
    return get_item_as(session, caller, item_id, lock=lock)[0]


def require_lead(session: Session, caller: Caller, item_id: int, what: str) -> Item:
    """The locked item, if the caller may act for its lead unit: a co-unit's key
    sees the item but is refused (403) what only the lead unit does."""
    item, lead = get_item_as(session, caller, item_id, lock=True)
    if not lead:
        raise Forbidden(f"Only the lead unit (牵头单位) may {what}.")
    return item


def check_if_match(item: Item, if_match: str | None) -> None:
    """412 unless an ``If-Match`` given names the item's current ETag (compared strongly)."""
    if if_match is None:
        return
    if not etag.matches(item.version, if_match, strong=True):
        raise PreconditionFailed(
            f"The item has changed (version {item.version}); reload it and try again.",
            current_version=item.version,
        )


def item_json(item: Item) -> dict:
    """The item's public JSON (``ItemPublic``), as a dict."""
    return public_json(item)


def item_json_text(item: Item) -> str:
    """``json_text(item_json(item))``, written straight from the item's column values
    (``fast_json.item_text``)."""
    state = vars(item)
    return item_text([state[n] if n in state else getattr(item, n) for n in _COLUMNS])


def emit_item_event(
    session: Session, type_: str, item: Item, at, shown: str | None = None, **data
) -> None:
    """An item event: ``data`` and the item's JSON (``item``), queued as their JSON
    text. ``shown`` is the item's JSON text when the caller made it already (a change
    emits several events of the same item state)."""
    assert "item" not in data, "an item event's data names the item as ``item``"
    if shown is None:
        shown = item_json_text(item)
    head = event_head(data)
    emit(
        session,
        type_,
        subject=f"items/{item.id}",
        at=at,
        item_id=item.id,
        unit_code=item.unit_code,
        co_unit_codes=item.co_unit_codes,
        data=JsonText(f"{head}{shown}}}"),  # json_text({**data, "item": item_json(item)})
    )


_UPDATE_ROW = ExecuteMany(update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")))


def column_values(item) -> dict:
    """The item's column values (to compare with after a change, or a row to insert).

    A loaded column's value is in the instance's dict, which is what the attribute
    returns (as in ``schemas.to_public``); only an expired one goes through it."""
    state = vars(item)
    return {name: state[name] if name in state else getattr(item, name) for name in _COLUMNS}


class Change:
    """What one change of an item records: its history entry and its events.
    Made by ``change``; the writer applies them when the block ends."""

    def __init__(self, item) -> None:
        self.item = item
        self.entry: dict | None = None
        self.events: list[tuple[str, dict]] = []
        self.shown: str | None = None
        """The item's JSON text as written, made for its events."""
        self._snapshot: dict | None = None

    @property
    def snapshot(self) -> dict | None:
        """The item's JSON as written (its events'), as a dict; None when it sent none."""
        if self._snapshot is None and self.shown is not None:
            self._snapshot = json.loads(self.shown)
        return self._snapshot

    def record(
        self,
        action: str,
        *,
        actor: str,
        comment: str | None = None,
        data: dict | None = None,
        **states,
    ) -> None:
        """The change's history entry (one a change). ``from_state`` / ``to_state``
        default to the item's state as written: an entry that does not move it."""
        if self.entry is not None:
            raise RuntimeError("one history entry per change")
        self.entry = {"action": action, "actor": actor, "comment": comment, "data": data, **states}

    def emit(self, type_: str, **data) -> None:
        """An event of the item, sent with the item as written."""
        self.events.append((type_, data))


@contextmanager
def change(
    session: Session, item, *, at: datetime, write: Write = "update", bump: bool = True
) -> Iterator[Change]:
    """Change ``item`` (locked by the caller) in the block; see the module's docstring.
    ``bump=False``: a note that leaves the version (an upload, a request)."""
    if write == "flush" and item not in session:
        # (an item a ``write="update"`` change wrote and let go: its history would grow
        # and its row, never flushed, would keep the old chain head)
        raise RuntimeError(
            "change(write='flush') of an item the session does not hold; read it again"
        )
    before = column_values(item) if write == "update" else None
    done = Change(item)
    yield done
    if bump:
        item.version += 1
        item.updated_at = at
    if write == "update":
        assert before is not None
        with _together(session):
            _write_history(session, item, done, at)
            changed = {k: v for k, v in column_values(item).items() if before[k] != v}
            if changed:
                _UPDATE_ROW.execute(session, [{"item_id": item.id, **changed}])
            if item in session:
                session.expunge(item)
            _emit_events(session, item, done, at)
            write_queued(session)
        return
    _write_history(session, item, done, at)
    if write == "flush":
        session.flush()
    _emit_events(session, item, done, at)


def _write_history(session: Session, item, done: Change, at: datetime) -> None:
    if done.entry is None:
        return
    entry = done.entry
    history.append(
        session,
        item,
        at=at,
        actor=entry["actor"],
        action=entry["action"],
        from_state=entry.get("from_state", item.state),
        to_state=entry.get("to_state", item.state),
        comment=entry["comment"],
        data=entry["data"],
    )


def _emit_events(session: Session, item, done: Change, at: datetime) -> None:
    if done.events:
        done.shown = item_json_text(item)
        for type_, data in done.events:
            emit_item_event(session, type_, item, at, done.shown, **data)


@contextmanager
def _together(session: Session) -> Iterator[None]:
    """A single item's writes (history entry, row, events) as driver statements
    (compiled once per set of columns: ``kit.executemany``; the history row
    through the buffer, without RETURNING), and on PostgreSQL in one round trip:
    psycopg's pipeline sends them together and waits for their results once at
    the block's end -- none returns anything the block reads. Two round trips
    fewer a transition, each a wait and two system calls. An error in any of
    them is raised at the block's end, and the unit of work rolls back."""
    conn = session.connection()
    driver = conn.connection.driver_connection
    if conn.dialect.name != "postgresql" or driver is None:
        with history.buffered(session) as rows:
            yield
            history.insert_rows(session, rows)
        return
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with history.buffered(session) as rows, driver.pipeline():
            yield
            history.insert_rows(session, rows)
    except dbapi_error as exc:
        # Raised by the pipeline's closing sync, outside SQLAlchemy: wrapped as SQLAlchemy
        # would have (an IntegrityError, an OperationalError when the database is gone:
        # the 503 of an outage), and a dead connection is not given back to the pool.
        invalidated = conn.dialect.is_disconnect(exc, driver, None)
        if invalidated:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, dbapi_error, connection_invalidated=invalidated, dialect=conn.dialect
        ) from exc
