"""Extension requests (延期申请): a unit asks, a supervisor decides.

Approval moves ``due_date`` and so re-arms the ladder for the new deadline,
but never clears the honest record (``was_overdue``, ``max_escalation_level``).
One request may be pending per item at a time, and a request must be made on
or before the due date (while a closure request is under review the deadline
is paused, so a request stays possible then).
"""

from datetime import date

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import now, to_local_date
from app.deadlines.models import Extension, ExtensionStatus
from app.deadlines.schedule import deadline_dates, note_if_past_due, rearm, validate_due_date
from app.deadlines.store import load_calendar
from app.errors import ActionNotAllowed, Conflict, Forbidden, NotFound, field_error
from app.items.models import HistoryEntry, Item
from app.items.schemas import ActionInfo
from app.items.writer import Change, change, check_if_match, get_item, require_lead
from app.kit.children import children
from app.settings import get_settings
from app.workflow.registry import registry

REQUESTERS = {Role.admin, Role.unit}
DECIDERS = {Role.admin, Role.supervisor}


def extendable(item: Item) -> bool:
    """A deadline runs in the item's state (the workflow file says which: ``deadline``)."""
    wf = registry.get(item.workflow_name, item.workflow_version)
    return wf.state(item.state).deadline is not None


def public(ext: Extension) -> dict:
    return {
        "id": ext.id,
        "item_id": ext.item_id,
        "status": ext.status,
        "due_date": ext.due_date.isoformat(),
        "previous_due_date": ext.previous_due_date and ext.previous_due_date.isoformat(),
        "reason": ext.reason,
        "requested_by": ext.requested_by,
        "requested_at": ext.requested_at.isoformat().replace("+00:00", "Z"),
        "decided_by": ext.decided_by,
        "decided_at": ext.decided_at and ext.decided_at.isoformat().replace("+00:00", "Z"),
        "comment": ext.decision_comment,
    }


def _emit(change: Change, type_: str, ext: Extension, caller: Caller) -> None:
    change.emit(type_, extension=public(ext), actor=caller.identity())


_PENDING = select(col(Extension.id)).where(
    col(Extension.item_id) == bindparam("item_id"), col(Extension.status) == ExtensionStatus.pending
)
NOT_NOW = "当前状态不能申请延期"
PAST_DUE = "逾期后不能申请延期"
PENDING = "已有待审批的延期申请"


def refusal(session: Session, item: Item, today: date) -> tuple[str, int | None] | None:
    """Why the item's unit cannot request an extension now (the Chinese reason and,
    for a pending request, its id), or None when it can."""
    if not extendable(item) or item.due_date is None:
        return NOT_NOW, None
    if today > item.due_date and not item.review_pending:
        return PAST_DUE, None
    pending = session.connection().scalar(_PENDING, {"item_id": item.id})
    return (PENDING, pending) if pending is not None else None


def action_info(
    session: Session, caller: Caller, item: Item, lang: str = "zh", lead: bool = True
) -> ActionInfo | None:
    """``request_extension`` (申请延期) for GET /items/{id}/actions, when the caller
    may request one (its role, for the item's lead unit) for an item whose deadline runs."""
    if caller.role not in REQUESTERS or not lead or not extendable(item):
        return None
    refused = refusal(session, item, to_local_date(now(session)))
    return ActionInfo(
        name="request_extension",
        label="申请延期" if lang == "zh" else "Request extension",
        requires=["due_date", "reason"],
        enabled=refused is None,
        reason=refused and refused[0],
    )


def request_extension(
    session: Session,
    caller: Caller,
    item_id: int,
    due_date: date,
    reason: str,
    if_match: str | None = None,
) -> Extension:
    if caller.role not in REQUESTERS:
        raise Forbidden("Only the responsible unit may request an extension.")
    item = require_lead(session, caller, item_id, "request an extension")
    check_if_match(item, if_match)
    moment = now(session)
    refused = refusal(session, item, to_local_date(moment))
    if refused is not None and refused[1] is not None:
        raise Conflict(f"Extension request {refused[1]} is still pending for this item.")
    if refused is not None:
        raise ActionNotAllowed(refused[0], allowed_actions=[], state=item.state)
    assert item.due_date is not None  # an extendable item has a due date
    if due_date <= item.due_date:
        raise field_error("due_date", f"The new due date must be after {item.due_date}.")
    validate_due_date(due_date, to_local_date(moment))
    ext = Extension(
        item_id=item.id,
        due_date=due_date,
        previous_due_date=item.due_date,
        reason=reason,
        requested_by=caller.actor,
        requested_at=moment,
    )
    session.add(ext)
    session.flush()
    with change(session, item, at=moment, bump=False) as requested:
        data = {"extension_id": ext.id, "due_date": due_date.isoformat()}
        requested.record("extension_requested", actor=caller.actor, comment=reason, data=data)
        _emit(requested, "extension.requested", ext, caller)
    return ext


def decide(
    session: Session,
    caller: Caller,
    item_id: int,
    ext_id: int,
    approve: bool,
    comment: str | None,
    if_match: str | None = None,
) -> Extension:
    if caller.role not in DECIDERS:
        raise Forbidden("Only the supervising body decides extension requests.")
    item = get_item(session, caller, item_id, lock=True)
    check_if_match(item, if_match)
    ext = _extension(session, item, ext_id)
    if ext.status != ExtensionStatus.pending:
        raise Conflict(f"Extension request {ext_id} was already {ext.status}.")
    stale = approve and _superseded(session, item, ext)
    if stale:
        raise Conflict(f"{stale} Extension request {ext_id} can only be rejected.")
    moment = now(session)
    ext.status = ExtensionStatus.approved if approve else ExtensionStatus.rejected
    ext.decided_by, ext.decided_at, ext.decision_comment = caller.actor, moment, comment
    session.flush()
    data: dict = {"extension_id": ext.id, "due_date": ext.due_date.isoformat()}
    with change(session, item, at=moment, bump=approve) as decided:
        if approve:
            wf = registry.get(item.workflow_name, item.workflow_version)
            tz = get_settings().tz
            note_if_past_due(item, wf, tz, moment)
            item.due_date = ext.due_date
            rearm(item, wf, load_calendar(session), tz, moment)
            data.update(deadline_dates(item))
        action = "extension_approved" if approve else "extension_rejected"
        decided.record(action, actor=caller.actor, comment=comment, data=data)
        _emit(decided, "extension.decided", ext, caller)
    return ext


HANDS_OVER = {"set_unit", "clear_unit", "set_due_date", "set_redo_due_date"}
"""Effects that give an item another lead unit or another deadline."""


def _superseded(session: Session, item: Item, ext: Extension) -> str | None:
    """Why a pending request no longer stands, if it does not: the item's deadline no
    longer runs (closed, verified, sent back), or since the request the item was handed
    to another unit or given a new deadline (reassign, reopen, redo): the request was
    the former lead's, about a deadline that is gone. None when it stands."""
    if not extendable(item) or item.due_date is None:
        return f"No deadline runs in state {item.state!r}."
    wf = registry.get(item.workflow_name, item.workflow_version)
    entries = session.execute(
        select(col(HistoryEntry.action), col(HistoryEntry.data))
        .where(col(HistoryEntry.item_id) == item.id, col(HistoryEntry.at) >= ext.requested_at)
        .order_by(col(HistoryEntry.seq))
    )
    requested = False
    for action, data in entries:
        if not requested:
            requested = action == "extension_requested" and data.get("extension_id") == ext.id
            continue
        act = wf.action(action)
        effects = act and {*act.effects, *(e for b in act.branches for e in b.effects)}
        if effects and effects & HANDS_OVER:
            return f"The item was {action} after the request was made."
    return None


def get_extension(session: Session, caller: Caller, item_id: int, ext_id: int) -> Extension:
    """One extension request of an item in the caller's scope (the 201's ``Location``)."""
    return _extension(session, get_item(session, caller, item_id), ext_id)


def _extension(session: Session, item: Item, ext_id: int) -> Extension:
    ext = session.get(Extension, ext_id)
    if ext is None or ext.item_id != item.id:
        raise NotFound(f"No extension request {ext_id} on item {item.id}.")
    return ext


def list_extensions(session: Session, caller: Caller, item_id: int) -> list[Extension]:
    get_item(session, caller, item_id)
    return children(session, Extension, Extension.item_id, item_id, order=Extension.id)
