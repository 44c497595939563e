"""Measure rules: who may create, edit, report on, complete and reopen a measure.

Every change locks the item, bumps its version, refreshes its measures'
counts, appends to the item's hash chain and emits an event of the item
(``data.item`` and ``data.measure``): history, webhooks and the feed stay one
stream per item. ``create_measure`` is the part an importer calls for an item
it already holds locked.
"""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.auth.models import Role
from app.auth.service import Caller, with_unit_codes
from app.clock import now, to_local_date
from app.deadlines.schedule import validate_due_date
from app.deadlines.store import load_calendar
from app.errors import ActionNotAllowed, Forbidden, NotFound, field_error
from app.items.models import Item
from app.items.writer import change, check_if_match, get_item, get_item_as
from app.kit.children import children
from app.plans.co_units import hand_over_measures
from app.plans.lights import refresh_light
from app.plans.models import Measure, MeasureKind, MeasureProgress, MeasureStatus
from app.plans.schemas import MeasureCreate, MeasurePublic, MeasureUpdate, ProgressCreate
from app.settings import get_settings
from app.workflow.registry import registry

SUPERVISING = {Role.admin, Role.supervisor}
LEAD_CREATES_IN = {"assigned", "rectifying"}


def measure_json(m: Measure) -> dict:
    return MeasurePublic.model_validate(m, from_attributes=True).model_dump(mode="json")


def refresh_counts(session: Session, item: Item) -> None:
    """The item's ``measures_*`` counts from its measures (one GROUP BY)."""
    rows = session.execute(
        select(col(Measure.status), col(Measure.light), func.count())
        .where(col(Measure.item_id) == item.id)
        .group_by(Measure.status, Measure.light)
    )
    set_counts(item, rows)


def set_counts(item: Item, rows: Iterable) -> None:
    """The item's ``measures_*`` counts from ``(status, light, n)`` rows of its measures."""
    counts = {"open": 0, "done": 0, "ongoing": 0}
    overdue = 0
    for status, light, n in rows:
        counts[status] = counts.get(status, 0) + n
        if status == MeasureStatus.open and light == "red":
            overdue += n
    item.measures_total = sum(counts.values())
    item.measures_open = counts["open"]
    item.measures_done = counts["done"]
    item.measures_ongoing = counts["ongoing"]
    item.measures_overdue = overdue


def record(session: Session, item: Item, measure: Measure, **change) -> None:
    """One measure change on the (locked) item: its counts from the measures as
    flushed, then ``note_change`` (whose keywords ``change`` holds): version, history,
    event."""
    session.flush()
    refresh_counts(session, item)
    note_change(session, item, measure, **change)


def note_change(
    session: Session,
    item: Item,
    measure: Measure,
    *,
    at: datetime,
    by: Caller | str,
    action: str,
    event: str | None,
    comment: str | None = None,
    write: Literal["flush", "later"] = "flush",
    **data,
) -> None:
    """A measure change's version step, history entry and event on the item, whose
    counts are already set; ``write`` as ``writer.change`` takes it. ``by``: the caller,
    named in history and (as item events name a person) in the event's ``actor``; or
    the system's actor name (the scheduler), in history only."""
    with change(session, item, at=at, write=write) as changed:
        entry = {"measure_id": measure.id, "seq": measure.seq, **data}
        actor = by if isinstance(by, str) else by.actor
        changed.record(action, actor=actor, comment=comment, data=entry)
        if event:
            named = {} if isinstance(by, str) else {"actor": by.identity()}
            changed.emit(event, measure=measure_json(measure), **named, **data)


def _final(item: Item) -> bool:
    return registry.get(item.workflow_name, item.workflow_version).state(item.state).final


def _refuse_if_closed(item: Item) -> None:
    if _final(item):
        raise ActionNotAllowed(
            "The item is closed; its measures can no longer change.",
            allowed_actions=[],
            state=item.state,
        )


def _refuse_if_settled(item: Item) -> None:
    """A measure may not be added or reopened once the unit has asked for closure: while
    the request is under review (a supervisor rejects it first; the unit asks again
    when the measure is done) or after verification. Else a verified item would be
    closed as rectified with an open measure that nobody could complete any more."""
    _refuse_if_closed(item)
    wf = registry.get(item.workflow_name, item.workflow_version)
    state = wf.state(item.state)
    if item.review_pending or (state.deadline is None and item.state != wf.initial):
        raise ActionNotAllowed(
            "The unit has asked for closure (销号): reject the request before adding or "
            "reopening a measure.",
            allowed_actions=[],
            state=item.state,
        )


def _due_for(kind: str, due: date | None, item: Item) -> date | None:
    if kind == MeasureKind.long_term:
        if due is not None:
            raise field_error("due_date", "A long-term measure (长期坚持) has no due date.")
        return None
    if kind == MeasureKind.deadline and due is None:
        raise field_error("due_date", "A deadline measure (限期整改) needs a due date.")
    return due if due is not None else item.due_date


def _check_unit(item: Item, code: str | None) -> str:
    code = code or item.unit_code
    if code is None or (code != item.unit_code and code not in (item.co_unit_codes or [])):
        raise field_error("unit_code", "A measure's unit must be the lead unit or a co-unit.")
    return code


def new_measure(
    item: Item, data: MeasureCreate, *, seq: int, moment: datetime, calendar
) -> Measure:
    """The measure ``data`` asks for on ``item``, checked against the rules (closed
    items, kinds and their dates, the unit) and lit; nothing is written."""
    _refuse_if_settled(item)
    due = _due_for(data.kind, data.due_date, item)
    if due is not None and due != item.due_date:
        validate_due_date(due, to_local_date(moment))
    measure = Measure(
        item_id=item.id,
        seq=seq,
        title=data.title,
        unit_code=_check_unit(item, data.unit_code),
        kind=data.kind,
        due_date=due,
        created_at=moment,
        updated_at=moment,
    )
    refresh_light(measure, calendar, get_settings().tz, moment)
    return measure


def created_data(measure: Measure) -> dict:
    """What the history entry and the event of a new measure carry."""
    due = measure.due_date
    return {
        "title": measure.title,
        "kind": measure.kind,
        "unit_code": measure.unit_code,
        "due_date": due and due.isoformat(),
    }


def create_measure(
    session: Session,
    item: Item,
    by: Caller,
    data: MeasureCreate,
    moment: datetime | None = None,
    calendar=None,
) -> Measure:
    """Add a measure to ``item`` (already locked and in the caller's scope; rules on who
    may are the caller's). For importers as for the API: validated, recorded, emitted."""
    _refuse_if_closed(item)
    moment = moment or now(session)
    last = session.scalar(select(func.max(col(Measure.seq))).where(col(Measure.item_id) == item.id))
    measure = new_measure(
        item,
        data,
        seq=(last or 0) + 1,
        moment=moment,
        calendar=calendar or load_calendar(session),
    )
    session.add(measure)
    record(
        session,
        item,
        measure,
        at=moment,
        by=by,
        action="measure_create",
        event="measure.created",
        **created_data(measure),
    )
    return measure


def record_new_measures(
    session: Session,
    item,
    measures: list[Measure],
    *,
    at: datetime,
    by: Caller,
) -> None:
    """``record`` for the first measures of an item being created in bulk (its row and
    theirs are inserted later by the caller): the counts follow in memory instead of
    from a query; the version, history entries and events are the same as
    ``create_measure``'s, one per measure in order."""
    for measure in measures:
        item.measures_total += 1
        item.measures_open += 1
        item.measures_overdue += measure.light == "red"
        note_change(
            session, item, measure, at=at, by=by, action="measure_create",
            event="measure.created", write="later", **created_data(measure),
        )  # fmt: skip


def _lead_item(
    session: Session, caller: Caller, item_id: int, what: str, if_match: str | None
) -> Item:
    """The locked item, if the caller supervises or acts for its lead unit (and
    ``if_match``, if given, names its version: a measure's change changes the item)."""
    if caller.role not in SUPERVISING | {Role.unit}:
        raise Forbidden(f"The role {caller.role.value} may not {what}.")
    item, lead = get_item_as(session, caller, item_id, lock=True)
    if not lead:
        raise Forbidden(f"Only a supervisor or the lead unit (牵头单位) may {what}.")
    check_if_match(item, if_match)
    return item


def add_measure(
    session: Session,
    caller: Caller,
    item_id: int,
    data: MeasureCreate,
    if_match: str | None = None,
) -> Measure:
    item = _lead_item(session, caller, item_id, "add measures", if_match)
    if caller.role == Role.unit and item.state not in LEAD_CREATES_IN:
        raise ActionNotAllowed(
            "The lead unit adds measures while the item is assigned or rectifying.",
            allowed_actions=[],
            state=item.state,
        )
    return create_measure(session, item, caller, data)


def _measure(session: Session, item: Item, measure_id: int, lock: bool = True) -> Measure:
    stmt = select(Measure).where(col(Measure.id) == measure_id, col(Measure.item_id) == item.id)
    measure = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if measure is None:
        raise NotFound(f"No measure {measure_id} on item {item.id}.")
    return measure


def _require_open(item: Item, measure: Measure) -> None:
    if measure.status != MeasureStatus.open:
        raise ActionNotAllowed(
            f"Measure {measure.seq} is {measure.status}; a supervisor may reopen it.",
            allowed_actions=[],
            state=item.state,
        )


def update_measure(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    data: MeasureUpdate,
    if_match: str | None = None,
) -> Measure:
    item = _lead_item(session, caller, item_id, "edit measures", if_match)
    measure = _measure(session, item, measure_id)  # another item's measure: 404 first
    _refuse_if_closed(item)
    return change_measure(session, item, measure, data, caller)


def change_measure(
    session: Session,
    item: Item,
    measure: Measure,
    data: MeasureUpdate,
    by: Caller,
) -> Measure:
    """Apply ``data`` to an open measure of the (locked) item: the rules of kinds, dates
    and units; recorded and emitted when anything changed. For the API and importers."""
    _refuse_if_closed(item)
    _require_open(item, measure)
    changes = data.model_dump(exclude_unset=True)
    kind = changes.get("kind") or measure.kind
    if "kind" in changes and changes["kind"] is None:
        raise field_error("kind", "must not be null")
    due = changes.get("due_date", measure.due_date)
    if kind == MeasureKind.long_term and "due_date" not in changes:
        due = None
    due = _due_for(kind, due, item)
    moment = now(session)
    if due is not None and due != measure.due_date:
        validate_due_date(due, to_local_date(moment))
    new = {
        "title": changes.get("title") or measure.title,
        "kind": str(kind),
        "unit_code": (
            _check_unit(item, changes["unit_code"])
            if changes.get("unit_code")
            else measure.unit_code
        ),
        "due_date": due,
    }
    changed = {k: v for k, v in new.items() if getattr(measure, k) != v}
    if not changed:
        return measure
    for key, value in changed.items():
        setattr(measure, key, value)
    refresh_light(measure, load_calendar(session), get_settings().tz, moment)
    if "due_date" in changed:
        changed["due_date"] = due and due.isoformat()
    measure.updated_at = moment
    record(
        session,
        item,
        measure,
        at=moment,
        by=by,
        action="measure_update",
        event="measure.updated",
        changed=changed,
    )
    return measure


def _its_unit_or_lead(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    what: str,
    if_match: str | None,
):
    """(item, measure), locked, if the caller may act on the measure as its unit or the
    lead unit (a unit key) or is an admin; supervisors only where ``what`` allows."""
    if caller.role == Role.viewer:
        raise Forbidden(f"The viewer role may not {what}.")
    item, lead = get_item_as(session, caller, item_id, lock=True)
    measure = _measure(session, item, measure_id)  # another item's measure: 404 first
    check_if_match(item, if_match)
    _refuse_if_closed(item)
    mine = lead or measure.unit_code in with_unit_codes(session, caller).unit_codes
    if caller.role == Role.unit and not mine:
        raise Forbidden(f"Only the measure's unit or the lead unit may {what}.")
    return item, measure


def report_progress(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    data: ProgressCreate,
    if_match: str | None = None,
) -> MeasureProgress:
    item, measure = _its_unit_or_lead(
        session, caller, item_id, measure_id, "report progress", if_match
    )
    moment = now(session)
    progress = MeasureProgress(
        measure_id=measure.id,
        at=moment,
        actor=caller.actor,
        comment=data.comment,
        percent=data.percent,
    )
    session.add(progress)
    measure.latest_progress = progress_json(progress)
    reported = ("measure_progress", "measure.progress")
    kw = {"comment": data.comment, "progress": measure.latest_progress}
    _changed_by(session, caller, item, measure, moment, reported, **kw)
    session.flush()  # its id: the answer's and its ``Location``'s
    return progress


def progress_json(p: MeasureProgress) -> dict:
    at = p.at.isoformat().replace("+00:00", "Z")
    return {"at": at, "actor": p.actor, "comment": p.comment, "percent": p.percent}


def complete_measure(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    comment: str,
    if_match: str | None = None,
) -> Measure:
    if caller.role == Role.supervisor:
        raise Forbidden("The measure's unit or the lead unit completes a measure.")
    item, measure = _its_unit_or_lead(session, caller, item_id, measure_id, "complete it", if_match)
    _require_open(item, measure)
    long_term = measure.kind == MeasureKind.long_term
    status = MeasureStatus.ongoing if long_term else MeasureStatus.done
    done = ("measure_complete", "measure.completed")
    _set_status(session, caller, item, measure, status, done, comment)
    return measure


def reopen_measure(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    comment: str,
    if_match: str | None = None,
) -> Measure:
    if caller.role not in SUPERVISING:
        raise Forbidden("Only a supervisor may reopen a measure.")
    item = get_item(session, caller, item_id, lock=True)
    measure = _measure(session, item, measure_id)  # another item's measure: 404 first
    check_if_match(item, if_match)
    _refuse_if_settled(item)
    if measure.status == MeasureStatus.open:
        raise ActionNotAllowed(
            f"Measure {measure.seq} is already open.", allowed_actions=[], state=item.state
        )
    reopened = ("measure_reopen", "measure.reopened")
    _set_status(session, caller, item, measure, MeasureStatus.open, reopened, comment)
    return measure


def _set_status(
    session: Session,
    caller: Caller,
    item: Item,
    measure: Measure,
    status: MeasureStatus,
    action_event: tuple[str, str],
    comment: str,
) -> None:
    """Complete (done, ongoing) or reopen a measure: its light, the item's record. A
    measure reopened after its unit left the item passes to the lead unit."""
    moment = now(session)
    measure.status = status
    measure.completed_at = None if status == MeasureStatus.open else moment
    refresh_light(measure, load_calendar(session), get_settings().tz, moment)
    kw: dict = {"comment": comment, "status": measure.status}
    if status == MeasureStatus.open:
        kw.update(hand_over_measures(session, item, moment))
    _changed_by(session, caller, item, measure, moment, action_event, **kw)


def _changed_by(
    session: Session,
    caller: Caller,
    item: Item,
    measure: Measure,
    moment: datetime,
    action_event: tuple[str, str],
    **data,
) -> None:
    """A caller changed ``measure`` at ``moment``: its ``updated_at``, the item's record
    (``action_event``: the history action and the event type)."""
    measure.updated_at = moment
    action, event = action_event
    record(session, item, measure, at=moment, by=caller, action=action, event=event, **data)


def get_measure(session: Session, caller: Caller, item_id: int, measure_id: int) -> Measure:
    """One measure of an item in the caller's scope (the 201's ``Location``)."""
    return _measure(session, get_item(session, caller, item_id), measure_id, lock=False)


def list_measures(session: Session, caller: Caller, item_id: int) -> list[Measure]:
    get_item(session, caller, item_id)
    return children(session, Measure, Measure.item_id, item_id, order=Measure.seq)


def get_progress(
    session: Session, caller: Caller, item_id: int, measure_id: int, progress_id: int
) -> MeasureProgress:
    """One progress report of a measure in the caller's scope (the 201's ``Location``)."""
    measure = _measure(session, get_item(session, caller, item_id), measure_id, lock=False)
    found = session.get(MeasureProgress, progress_id)
    if found is None or found.measure_id != measure.id:
        raise NotFound(f"No progress report {progress_id} on measure {measure_id}.")
    return found


def list_progress(
    session: Session, caller: Caller, item_id: int, measure_id: int
) -> list[MeasureProgress]:
    item = get_item(session, caller, item_id)
    measure = _measure(session, item, measure_id, lock=False)
    return children(
        session, MeasureProgress, MeasureProgress.measure_id, measure.id, order=MeasureProgress.id
    )
