"""One action on one item, in one transaction (DESIGN.md, "data flow").

Lock the row, check If-Match, let the item's pinned workflow machine check
role, state and guards and run the effects, bump the version, append the
hash-chained history entry, write the outbox events, re-arm the deadlines.
"""

from datetime import datetime

from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import now, to_local_date
from app.deadlines.schedule import deadline_dates, note_if_past_due
from app.deadlines.store import load_calendar
from app.errors import ActionNotAllowed, Forbidden, Invalid
from app.items.models import Item
from app.items.schemas import ActionInfo, TransitionRequest
from app.items.scope import acts_for_lead
from app.items.service import refresh_deadlines
from app.items.writer import Change, Write, change, check_if_match, get_item_to_change
from app.settings import get_settings
from app.workflow import guards
from app.workflow.definition import ActionDef, Workflow
from app.workflow.effects import SETS_DEADLINE
from app.workflow.machine import TransitionContext
from app.workflow.registry import registry

ALWAYS_ALLOWED_FIELDS = {"comment"}
DEADLINE_COLUMNS = ("due_date", "accept_due_date", "ladder_deadline")


def _sets_deadline(action: ActionDef, state: str) -> bool:
    """Whether ``action``, on the branch that led to ``state``, runs a deadline effect
    (read from the definition as it is: ``targets()`` would build a model per branch
    on every transition)."""
    if not SETS_DEADLINE.isdisjoint(action.effects):
        return True
    return any(b.to == state and not SETS_DEADLINE.isdisjoint(b.effects) for b in action.branches)


def may_act(caller: Caller, action: ActionDef, lead: bool = True) -> bool:
    """The caller's role may take ``action``; a unit key only for an item whose lead
    unit it acts for (``lead``): co-units never sign, return or submit."""
    if caller.role == Role.admin:
        return True
    return caller.role.value in action.roles and (lead or caller.role != Role.unit)


def _context(
    session: Session,
    caller: Caller,
    item: Item,
    wf: Workflow,
    fields: dict,
    calendar=None,
    moment: datetime | None = None,
) -> TransitionContext:
    moment = moment or now(session)
    return TransitionContext(
        session=session,
        item=item,
        caller=caller,
        workflow=wf,
        fields=fields,
        today=to_local_date(moment),
        calendar=calendar or load_calendar(session),
        moment=moment,
    )


def action_states(
    session: Session, caller: Caller, item: Item, lead: bool | None = None
) -> list[tuple[ActionDef, str | None]]:
    """Every action this caller's role may take from the item's state, each with
    the Chinese reason a guard refuses it now (None: it may be taken).
    ``lead``: whether the caller acts for the item's lead unit (looked up if None)."""
    if lead is None:
        lead = acts_for_lead(session, caller, item)
    wf = registry.get(item.workflow_name, item.workflow_version)
    machine = registry.machine(item.workflow_name, item.workflow_version)
    ctx = _context(session, caller, item, wf, {})
    result = []
    for name in machine.actions_from(item.state):
        action = wf.action(name)
        if action is None or not may_act(caller, action, lead):
            continue
        ctx.failed_guards.clear()
        ok = machine.may(item.state, name, ctx)
        reason = None if ok else guards.REGISTRY[ctx.failed_guards[0]].reason
        result.append((action, reason))
    return result


def allowed_actions(
    session: Session, caller: Caller, item: Item, lead: bool | None = None
) -> list[ActionDef]:
    """What this caller may do to this item now: role, source state and guards."""
    return [a for a, reason in action_states(session, caller, item, lead) if reason is None]


def action_infos(
    session: Session, caller: Caller, item: Item, lang: str = "zh", lead: bool | None = None
) -> list[ActionInfo]:
    return [
        ActionInfo(
            name=a.name,
            label=getattr(a.label, lang),
            requires=a.requires,
            enabled=reason is None,
            reason=reason,
        )
        for a, reason in action_states(session, caller, item, lead)
    ]


def _check_fields(action: ActionDef, fields: dict) -> None:
    errors = [
        {"field": f, "message": f"required for {action.name}"}
        for f in action.requires
        if fields.get(f) is None or (isinstance(fields.get(f), str) and not fields[f].strip())
    ]
    takes = set(action.requires) | set(action.optional) | ALWAYS_ALLOWED_FIELDS
    if "set_unit" in action.effects:  # naming the lead may name its co-units too
        takes.add("co_unit_codes")
    errors += [
        {"field": f, "message": f"not a field of {action.name}"}
        for f, v in fields.items()
        if v is not None and f not in takes
    ]
    if errors:
        raise Invalid(f"The action {action.name!r} is missing or has wrong fields.", errors=errors)


def transition(
    session: Session, caller: Caller, item_id: int, req: TransitionRequest, if_match: str | None
) -> Item:
    """Run ``req`` on the item; return it, detached from ``session`` (its row is
    already written: ``app.items.writer``)."""
    return transition_with_json(session, caller, item_id, req, if_match)[0]


def transition_with_json(
    session: Session, caller: Caller, item_id: int, req: TransitionRequest, if_match: str | None
) -> tuple[Item, str]:
    """``transition``, and the item's JSON text as written: its events', which is also
    the response (encoded once, not again for the response)."""
    item, lead = get_item_to_change(session, caller, item_id)
    check_if_match(item, if_match)
    fired = take(session, caller, item, lead, req, write="update")
    assert fired.shown is not None  # every transition emits item.transitioned
    return item, fired.shown


def take(
    session: Session,
    caller: Caller,
    item: Item,
    lead: bool,
    req: TransitionRequest,
    calendar=None,
    write: Write = "later",
) -> Change:
    """Check ``req`` against the loaded, locked item (action, role, state, fields) and
    fire it (``apply``); the change made (the item's JSON after it). By default the row
    is the caller's to write (a batch writes its items' rows together, ``app.items.batch``)."""
    wf = registry.get(item.workflow_name, item.workflow_version)
    machine = registry.machine(item.workflow_name, item.workflow_version)
    action = wf.action(req.action)
    if action is None:
        if any(other.action(req.action) for other in registry.workflows.values()):
            # An action of another workflow (``close`` on a hotline order, ``merge`` on
            # an item under rectification): not possible for this item, as any refused
            # action is, and what it can do instead is said.
            raise ActionNotAllowed(
                f"The {wf.name} workflow has no {req.action!r}.",
                allowed_actions=[a.name for a in allowed_actions(session, caller, item, lead)],
                state=item.state,
            )
        raise Invalid(
            f"Unknown action {req.action!r}.",
            errors=[{"field": "action", "message": "not an action of this workflow"}],
        )
    if not may_act(caller, action, lead):
        if caller.role.value in action.roles:
            raise Forbidden(f"Only the lead unit (牵头单位) may {action.name}; a co-unit may not.")
        raise Forbidden(f"The role {caller.role.value} may not {action.name}.")
    if action.name not in machine.actions_from(item.state):
        raise ActionNotAllowed(
            f"{action.name!r} is not possible while the item is {item.state!r}.",
            allowed_actions=[a.name for a in allowed_actions(session, caller, item, lead)],
            state=item.state,
        )
    fields = req.model_dump(exclude={"action"})
    _check_fields(action, fields)
    return apply(session, caller, item, wf, action, fields, calendar, lead=lead, write=write)


def apply(
    session: Session,
    caller: Caller,
    item: Item,
    wf: Workflow,
    action: ActionDef,
    fields: dict,
    calendar=None,
    lead: bool | None = None,
    write: Write = "later",
    moment: datetime | None = None,
) -> Change:
    """Fire ``action`` (already checked for role, source state and fields) on ``item``:
    guards, effects, version, deadlines, history entry and events, through the item
    writer; the change made (its ``snapshot``: the item's JSON after it, made when
    asked for). ``write`` says who writes the row (by default the caller: a bulk
    insert for a new item, a batch's rows). ``moment``: the engine's now, when the
    caller has it (the demo's clock); looked up otherwise."""
    machine = registry.machine(item.workflow_name, item.workflow_version)
    calendar = calendar or load_calendar(session)
    moment = moment or now(session)
    ctx = _context(session, caller, item, wf, fields, calendar, moment)
    before = {k: getattr(item, k) for k in DEADLINE_COLUMNS}
    co_units_before = list(item.co_unit_codes or [])
    from_state = item.state
    with change(session, item, at=moment, write=write) as fired:
        note_if_past_due(item, wf, get_settings().tz, moment)
        new_state = machine.fire(from_state, action.name, ctx)
        if new_state is None:
            guard = guards.REGISTRY[ctx.failed_guards[0]]
            if guard.status == 409:
                allowed = [a.name for a in allowed_actions(session, caller, item, lead)]
                detail, extra = guard.explain(ctx)
                raise ActionNotAllowed(detail, allowed_actions=allowed, state=item.state, **extra)
            raise Invalid(guard.message, errors=[{"field": guard.field, "message": guard.message}])

        item.state = new_state
        if wf.state(new_state).final:
            item.closed_at = moment
        elif wf.state(from_state).final:
            item.closed_at = None
        refresh_deadlines(session, item, calendar, moment)

        comment = fields.get("comment")
        data = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in fields.items()
            if v is not None and k != "comment"
        }
        data.update(ctx.record)
        if item.co_unit_codes != co_units_before:
            # As they are now: a new lead named among them leaves them unasked.
            data["co_unit_codes"] = list(item.co_unit_codes)
        moved = any(before[k] != getattr(item, k) for k in DEADLINE_COLUMNS)
        if item.ladder_deadline and (moved or _sets_deadline(action, new_state)):
            data.update(deadline_dates(item))
        states = {"from_state": from_state, "to_state": new_state}
        fired.record(action.name, actor=caller.actor, comment=comment, data=data, **states)
        actor = caller.identity()
        fired.emit("item.transitioned", action=action.name, **states, comment=comment, actor=actor)
        for event_type in action.events_to(new_state):
            fired.emit(event_type, action=action.name, **states, actor=actor)
    return fired
