"""Manual escalation and the list of escalated items."""

from sqlalchemy import select
from sqlmodel import Session, col

from app.auth.service import Caller, with_unit_codes
from app.clock import now
from app.deadlines.ladder import ESCALATED
from app.deadlines.schedule import raise_level, running_deadline
from app.errors import ActionNotAllowed, field_error
from app.items.models import Item
from app.items.queries import page, scoped
from app.items.scope import covering
from app.items.writer import change, check_if_match, get_item
from app.units.service import subtree_code_list
from app.workflow.registry import registry


def escalate(
    session: Session,
    caller: Caller,
    item_id: int,
    level: int | None,
    reason: str,
    if_match: str | None = None,
) -> Item:
    """Step an open item up the ladder by hand; fires the event the ladder's step of that
    level fires (API.md: "fires the same events"): ``item.overdue`` for level 1,
    ``item.escalated`` above it. The scan then sends no second notice for that level
    (``ladder.advance``: ``covered``)."""
    item = get_item(session, caller, item_id, lock=True)
    check_if_match(item, if_match)
    wf = registry.get(item.workflow_name, item.workflow_version)
    if wf.state(item.state).final:
        raise ActionNotAllowed(
            "A closed item cannot be escalated.", allowed_actions=[], state=item.state
        )
    running = running_deadline(item, wf)
    if running is None:  # found, verified: the level is the running deadline's (API.md)
        raise ActionNotAllowed(
            f"No deadline is running in the state {item.state}: nothing to escalate.",
            allowed_actions=[],
            state=item.state,
        )
    kind = running[0]
    ladder = wf.ladder_for(kind)
    top = max((s.level for s in ladder), default=0)
    target = level if level is not None else item.escalation_level + 1
    if not item.escalation_level < target <= top:
        raise field_error(
            "level",
            f"The level must be above the current {item.escalation_level} and at most {top}.",
        )
    step = next((s for s in ladder if s.level == target), None)
    step_name = step.name if step else f"level-{target}"
    with change(session, item, at=now(session)) as escalated:
        raise_level(item, target)
        data = {
            "deadline": kind,  # as the scan's steps say which ladder they are on
            "level": target,
            "step": step_name,
            "manual": True,
            "reason": reason,
        }
        escalated.record("escalate", actor=caller.actor, comment=reason, data=data)
        hook = {"hook": step.hook} if step and step.hook else {}
        event = step.event if step else ESCALATED
        escalated.emit(event, actor=caller.identity(), **data, **hook)
    return item


def escalated_items(
    session: Session, caller: Caller, level: int, unit: str | None, cursor: str | None, limit: int
) -> tuple[list[Item], str | None]:
    stmt = scoped(select(Item), with_unit_codes(session, caller)).where(
        col(Item.escalation_level) >= level, col(Item.closed_at).is_(None)
    )
    if unit:
        stmt = stmt.where(covering(subtree_code_list(session, unit)))
    return page(session, stmt, cursor, limit)
