"""One action on many items (``POST /items/batch``), with a result per item.

Every item goes through the same checks and ``apply`` as ``POST
/items/{id}/transitions`` (roles, scope, state, fields, guards, effects,
history, events), and a refusal leaves nothing of its item behind, so one
refusal never undoes the others. Two ways to get there:

- **Set-based** (actions whose effects change only the item's own row, 催办
  above all): the items are loaded and locked in one statement, each item's
  rules run in Python, and the rows of the accepted ones are written together
  (item updates with executemany, history entries and outbox events as bulk
  inserts) in one transaction. A refusal is raised before its item produced
  any history or event, and its item is never written: per item the outcome
  is exactly that of a single request, without 500 commits. Any unexpected
  error rolls the pass back and the batch runs the second way, so that only
  the failing item reports a 500.
- **Item by item**, each in its own transaction (actions whose effects write
  other rows or lock other items: ``set_unit``'s co-units, ``mark_duplicate``'s
  original): the single transition, repeated.

The caller is authenticated once, before the first item.
"""

import logging
from collections import defaultdict

from pydantic import Field, StrictInt, field_validator
from sqlalchemy import Engine, bindparam, or_, select, true, update
from sqlmodel import Session

from app.auth.service import Caller
from app.db import MAX_ID, new_session, table_of, unit_of_work
from app.deadlines.store import load_calendar
from app.errors import NotFound, ProblemError, problem_body, problem_of
from app.items import history
from app.items.models import Item
from app.items.schemas import TransitionRequest
from app.items.scope import lead_and_co_unit
from app.items.transitions import take, transition
from app.items.writer import item_json
from app.kit.executemany import ExecuteMany
from app.kit.standin import stand_in
from app.units.service import subtree_codes_like, subtree_pattern
from app.workflow.registry import registry

log = logging.getLogger("rectify.batch")
MAX_IDS = 500

ROW_LOCAL_EFFECTS = frozenset(
    {
        "set_due_date",
        "keep_due_date",
        "start_accept_deadline",
        "mark_review_pending",
        "clear_review_pending",
        "shift_due_for_review",
        "require_new_evidence",
        "resolve_rectified",
        "resolve_withdrawn",
        "clear_resolution",
        "record_satisfaction",
        "count_redo",
        "set_redo_due_date",
    }
)
"""Effects that read what they like but change only the item's own columns, so the
set-based pass may defer the item's write. A new effect is left out until
someone has checked that: the batch then runs item by item, as it always could."""

_ITEMS = table_of(Item)
_COLUMNS = tuple(_ITEMS.c.keys())
_UPDATE = ExecuteMany(update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")))


class BatchRequest(TransitionRequest):
    """An action and its fields, for every item in ``ids`` (1..500, no repeats)."""

    ids: list[StrictInt] = Field(min_length=1, max_length=MAX_IDS)
    """Strict: ``true`` is not item 1."""

    @field_validator("ids")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("each id at most once")
        return v


def _internal_error(request: TransitionRequest, item_id: int) -> dict:
    log.exception("batch %s failed on item %s", request.action, item_id)
    detail = "An unexpected error occurred on this item; it has been logged."
    return {
        "id": item_id,
        "status": 500,
        "problem": problem_body(500, "Internal server error", detail, "internal"),
    }


def _one(session: Session, caller: Caller, item_id: int, request: TransitionRequest) -> dict:
    try:
        with unit_of_work(session=session):
            item = transition(session, caller, item_id, request, None)
            return {"id": item_id, "status": 200, "item": item_json(item)}
    except ProblemError as exc:
        return {"id": item_id, "status": exc.status, "problem": problem_of(exc)}
    except Exception:  # noqa: BLE001 - one item's failure must not hide the others' results
        return _internal_error(request, item_id)


def set_based(action: str) -> bool:
    """Whether ``action`` changes only its item's row in every workflow that has it."""
    for wf in registry.workflows.values():
        act = wf.action(action)
        if act is not None and any(
            not ROW_LOCAL_EFFECTS.issuperset(t.effects) for t in act.targets()
        ):
            return False
    return True


def _load(session: Session, caller: Caller, ids: list[int]) -> dict[int, tuple[Item, bool]]:
    """The items of ``ids`` the caller may see, locked in id order (two batches never
    wait on each other crosswise), each with whether the caller acts for its lead
    unit: ``get_item_as`` for a set of ids.

    Each item is a plain object with the row's columns (``kit.standin``), as a bulk
    import's are: the rules read and set only columns, and an ORM instance's
    attribute instrumentation costs more than a 催办's checks (the rows are written
    by ``_write_together``, never by the session)."""
    params: dict = {"ids": [i for i in ids if -MAX_ID <= i <= MAX_ID]}
    if caller.scoped:
        lead, co = lead_and_co_unit(subtree_codes_like(bindparam("subtree")))
        stmt = select(*_ITEMS.c, lead.label("lead")).where(or_(lead, co))
        params["subtree"] = subtree_pattern(caller.unit_path or "/-none-/")
    else:
        stmt = select(*_ITEMS.c, true().label("lead"))
    stmt = (
        stmt.where(_ITEMS.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(_ITEMS.c.id)
        .with_for_update(of=_ITEMS)
    )
    width = len(_COLUMNS)
    found = {}
    for row in session.execute(stmt, params):
        item = stand_in(Item, **dict(zip(_COLUMNS, row[:width], strict=True)))
        found[item.id] = (item, bool(row[width]))
    return found


def _values(item: Item) -> dict:
    """``column_values`` read from the plain object's dict."""
    state = vars(item)
    return {name: state[name] for name in _COLUMNS}


class _Unsafe(Exception):
    """The set-based pass cannot vouch for its result: roll it back, go item by item."""


def _write_together(session: Session, caller: Caller, ids: list[int], request) -> list[dict]:
    """The set-based pass, inside the caller's transaction: every item's result."""
    loaded = _load(session, caller, ids)
    calendar = load_calendar(session)
    results, updates = [], defaultdict(list)
    with history.buffered(session) as entries:
        for item_id in ids:
            item, lead = loaded.get(item_id, (None, False))
            written = len(entries)
            try:
                if item is None:
                    raise NotFound(f"No item with id {item_id}.")
                before = _values(item)
                snapshot = take(session, caller, item, lead, request, calendar).snapshot
            except ProblemError as exc:
                if len(entries) != written:  # refused after its history entry: not a refusal
                    raise _Unsafe(item_id) from exc
                results.append({"id": item_id, "status": exc.status, "problem": problem_of(exc)})
                continue
            changed = {k: v for k, v in _values(item).items() if before[k] != v}
            if changed:
                updates[tuple(sorted(changed))].append({"item_id": item_id, **changed})
            results.append({"id": item_id, "status": 200, "item": snapshot})
    for rows in updates.values():
        _UPDATE.execute(session, rows)
    history.insert_rows(session, entries)
    return results  # the outbox writes the events, 500 rows a statement, by the commit


def run_batch(engine: Engine, caller: Caller, body: BatchRequest) -> dict:
    """``{"results":[{"id","status","item"|"problem"}],"succeeded","failed"}`` in ``ids`` order."""
    request = TransitionRequest.model_validate(body.model_dump(exclude={"ids"}))
    with new_session(write=True, engine=engine) as session:
        results = None
        if set_based(request.action):
            try:
                with unit_of_work(session=session):
                    results = _write_together(session, caller, body.ids, request)
            except Exception:  # noqa: BLE001 - rolled back; item by item names the failing one
                log.warning(
                    "batch %s: set-based pass failed, item by item", request.action, exc_info=True
                )
                results = None
        if results is None:
            results = [_one(session, caller, item_id, request) for item_id in body.ids]
    succeeded = sum(1 for r in results if r["status"] == 200)
    return {"results": results, "succeeded": succeeded, "failed": len(results) - succeeded}
