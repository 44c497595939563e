"""Measure changes: creating, adding, editing, reporting progress on, completing and
reopening a measure of an item.

Every change locks the item, checks who may and whether it can (``plans.checks``),
and leaves its mark on the item through ``plans.recording``: the measures' counts, a
version step, the item's hash chain and an event of the item. ``create_measure`` and
``change_measure`` are the parts an importer calls for an item it already holds
locked. Reads of measures and progress reports are in ``plans.reads``.
"""

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import now, to_local_date
from app.deadlines.schedule import validate_due_date
from app.deadlines.store import load_calendar
from app.errors import ActionNotAllowed, Forbidden, field_error
from app.items.models import Item
from app.items.writer import check_if_match, get_item
from app.plans.checks import (
    SUPERVISING,
    check_unit,
    due_for,
    its_unit_or_lead,
    lead_item,
    refuse_if_closed,
    refuse_if_settled,
    require_open,
)
from app.plans.co_units import hand_over_measures
from app.plans.lights import refresh_light
from app.plans.models import Measure, MeasureKind, MeasureProgress, MeasureStatus
from app.plans.reads import find_measure, progress_json
from app.plans.recording import changed_by, note_change, record
from app.plans.schemas import MeasureCreate, MeasureUpdate, ProgressCreate
from app.settings import get_settings

LEAD_CREATES_IN = {"assigned", "rectifying"}


def new_measure(
    item: Item, data: MeasureCreate, *, seq: int, moment: datetime, calendar
) -> Measure:
    """The measure ``data`` asks for on ``item``, checked against the rules (closed
    items, kinds and their dates, the unit) and lit; nothing is written."""
    refuse_if_settled(item)
    due = due_for(data.kind, data.due_date, item)
    if due is not None and due != item.due_date:
        validate_due_date(due, to_local_date(moment))
    measure = Measure(
        item_id=item.id,
        seq=seq,
        title=data.title,
        unit_code=check_unit(item, data.unit_code),
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
    refuse_if_closed(item)
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


def add_measure(
    session: Session,
    caller: Caller,
    item_id: int,
    data: MeasureCreate,
    if_match: str | None = None,
) -> Measure:
    item = lead_item(session, caller, item_id, "add measures", if_match)
    if caller.role == Role.unit and item.state not in LEAD_CREATES_IN:
        raise ActionNotAllowed(
            "The lead unit adds measures while the item is assigned or rectifying.",
            allowed_actions=[],
            state=item.state,
        )
    return create_measure(session, item, caller, data)


def update_measure(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    data: MeasureUpdate,
    if_match: str | None = None,
) -> Measure:
    item = lead_item(session, caller, item_id, "edit measures", if_match)
    measure = find_measure(session, item, measure_id)  # another item's measure: 404 first
    refuse_if_closed(item)
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
    refuse_if_closed(item)
    require_open(item, measure)
    changes = data.model_dump(exclude_unset=True)
    kind = changes.get("kind") or measure.kind
    if "kind" in changes and changes["kind"] is None:
        raise field_error("kind", "must not be null")
    due = changes.get("due_date", measure.due_date)
    if kind == MeasureKind.long_term and "due_date" not in changes:
        due = None
    due = due_for(kind, due, item)
    moment = now(session)
    if due is not None and due != measure.due_date:
        validate_due_date(due, to_local_date(moment))
    new = {
        "title": changes.get("title") or measure.title,
        "kind": str(kind),
        "unit_code": (
            check_unit(item, changes["unit_code"])
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


def report_progress(
    session: Session,
    caller: Caller,
    item_id: int,
    measure_id: int,
    data: ProgressCreate,
    if_match: str | None = None,
) -> MeasureProgress:
    item, measure = its_unit_or_lead(
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
    changed_by(session, caller, item, measure, moment, reported, **kw)
    session.flush()  # its id: the answer's and its ``Location``'s
    return progress


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
    item, measure = its_unit_or_lead(session, caller, item_id, measure_id, "complete it", if_match)
    require_open(item, measure)
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
    measure = find_measure(session, item, measure_id)  # another item's measure: 404 first
    check_if_match(item, if_match)
    refuse_if_settled(item)
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
    changed_by(session, caller, item, measure, moment, action_event, **kw)
