"""Effects a workflow action may name: the item fields an action changes.

Each effect is a small function of the transition context; a workflow file
lists them by name, so the rules stay data and no code branches on states.
"""

from collections.abc import Callable

from sqlmodel import select

from app.deadlines.schedule import validate_due_date
from app.errors import field_error
from app.items import history
from app.items.models import Item
from app.plans.co_units import apply_lead_change
from app.units.models import Unit


def _set_unit(ctx) -> None:
    code = ctx.fields.get("unit_code")
    if ctx.session.get(Unit, code) is None:
        raise field_error("unit_code", f"No unit with code {code!r}.")
    ctx.item.unit_code = code
    apply_lead_change(ctx.session, ctx.item, ctx.fields.get("co_unit_codes"))


def _clear_unit(ctx) -> None:
    ctx.item.unit_code = None
    ctx.item.due_date = None
    ctx.item.accept_due_date = None


def _check_future(ctx, due) -> None:
    validate_due_date(due, ctx.today)


def _default_due(ctx):
    days = ctx.workflow.sla.rectify_days(ctx.item.source, ctx.item.type)
    return ctx.calendar.add_workdays(ctx.today, days)


def _set_due_date(ctx) -> None:
    due = ctx.fields.get("due_date")
    if due is not None:
        _check_future(ctx, due)
    ctx.item.due_date = due or _default_due(ctx)


def _keep_due_date(ctx) -> None:
    due = ctx.fields.get("due_date")
    if due is not None:
        _check_future(ctx, due)
        ctx.item.due_date = due
    elif ctx.item.due_date is None:
        ctx.item.due_date = _default_due(ctx)


def _start_accept_deadline(ctx) -> None:
    ctx.item.accept_due_date = ctx.calendar.add_workdays(ctx.today, ctx.workflow.sla.accept_within)


def _record_satisfaction(ctx) -> None:
    ctx.item.satisfaction = ctx.fields["satisfaction"]


def _count_redo(ctx) -> None:
    ctx.item.redo_count += 1


def _set_redo_due_date(ctx) -> None:
    """不满意重办: a new rectification period, counted from the callback day."""
    ctx.item.due_date = _default_due(ctx)


def _mark_duplicate(ctx) -> None:
    """重复件: close this item as a duplicate of ``into`` and count it on the original.

    The original's row is locked and gets a history entry of its own, so its
    chain records every duplicate merged into it.
    """
    into = ctx.fields["into"]
    if into == ctx.item.id:
        raise field_error("into", "An item cannot be merged into itself.")
    original = ctx.session.scalars(select(Item).where(Item.id == into).with_for_update()).first()
    if original is None:
        raise field_error("into", f"No item with id {into}.")
    if original.duplicate_of is not None:
        raise field_error(
            "into", f"Item {into} is itself a duplicate; merge into item {original.duplicate_of}."
        )
    ctx.item.resolution = "duplicate"
    ctx.item.duplicate_of = original.id
    original.duplicate_count += 1
    original.version += 1
    original.updated_at = ctx.moment
    history.note(
        ctx.session,
        original,
        at=ctx.moment,
        actor=ctx.caller.actor,
        action="merged_in",
        data={"duplicate": ctx.item.id, "duplicate_number": ctx.item.number},
    )


def _setter(field: str, value) -> Callable:
    def _set(ctx) -> None:
        setattr(ctx.item, field, value)

    return _set


REGISTRY: dict[str, Callable] = {
    "set_unit": _set_unit,
    "clear_unit": _clear_unit,
    "set_due_date": _set_due_date,
    "keep_due_date": _keep_due_date,
    "start_accept_deadline": _start_accept_deadline,
    "mark_review_pending": _setter("review_pending", True),
    "clear_review_pending": _setter("review_pending", False),
    "resolve_rectified": _setter("resolution", "rectified"),
    "resolve_withdrawn": _setter("resolution", "withdrawn"),
    "clear_resolution": _setter("resolution", None),
    "record_satisfaction": _record_satisfaction,
    "count_redo": _count_redo,
    "set_redo_due_date": _set_redo_due_date,
    "mark_duplicate": _mark_duplicate,
}
