"""The refusals the measure changes share: who may change a measure (a supervisor, the
lead unit, the measure's own unit), whether the item and the measure are in a state
to change, and a measure's kind, due date and unit. Each raises the problem the API
answers with; none writes anything.
"""

from datetime import date

from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller, with_unit_codes
from app.errors import ActionNotAllowed, Forbidden, field_error
from app.items.models import Item
from app.items.writer import check_if_match, get_item_as
from app.plans.models import Measure, MeasureKind, MeasureStatus
from app.plans.reads import find_measure
from app.workflow.registry import registry

SUPERVISING = {Role.admin, Role.supervisor}


def _final(item: Item) -> bool:
    return registry.get(item.workflow_name, item.workflow_version).state(item.state).final


def refuse_if_closed(item: Item) -> None:
    if _final(item):
        raise ActionNotAllowed(
            "The item is closed; its measures can no longer change.",
            allowed_actions=[],
            state=item.state,
        )


def refuse_if_settled(item: Item) -> None:
    """A measure may not be added or reopened once the unit has asked for closure: while
    the request is under review (a supervisor rejects it first; the unit asks again
    when the measure is done) or after verification. Else a verified item would be
    closed as rectified with an open measure that nobody could complete any more."""
    refuse_if_closed(item)
    wf = registry.get(item.workflow_name, item.workflow_version)
    state = wf.state(item.state)
    if item.review_pending or (state.deadline is None and item.state != wf.initial):
        raise ActionNotAllowed(
            "The unit has asked for closure (销号): reject the request before adding or "
            "reopening a measure.",
            allowed_actions=[],
            state=item.state,
        )


def require_open(item: Item, measure: Measure) -> None:
    if measure.status != MeasureStatus.open:
        raise ActionNotAllowed(
            f"Measure {measure.seq} is {measure.status}; a supervisor may reopen it.",
            allowed_actions=[],
            state=item.state,
        )


def due_for(kind: str, due: date | None, item: Item) -> date | None:
    if kind == MeasureKind.long_term:
        if due is not None:
            raise field_error("due_date", "A long-term measure (长期坚持) has no due date.")
        return None
    if kind == MeasureKind.deadline and due is None:
        raise field_error("due_date", "A deadline measure (限期整改) needs a due date.")
    return due if due is not None else item.due_date


def check_unit(item: Item, code: str | None) -> str:
    code = code or item.unit_code
    if code is None or (code != item.unit_code and code not in (item.co_unit_codes or [])):
        raise field_error("unit_code", "A measure's unit must be the lead unit or a co-unit.")
    return code


def lead_item(
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


def its_unit_or_lead(
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
    measure = find_measure(session, item, measure_id)  # another item's measure: 404 first
    check_if_match(item, if_match)
    refuse_if_closed(item)
    mine = lead or measure.unit_code in with_unit_codes(session, caller).unit_codes
    if caller.role == Role.unit and not mine:
        raise Forbidden(f"Only the measure's unit or the lead unit may {what}.")
    return item, measure
