"""Effects a workflow action may name: the item fields an action changes.

Each effect is a small function of the transition context; a workflow file
lists them by name, so the rules stay data and no code branches on states.
"""

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from app.clock import to_local_date
from app.deadlines.schedule import deadline_key, validate_due_date
from app.errors import field_error
from app.items.models import SATISFIED, Item
from app.items.writer import change
from app.plans.co_units import apply_lead_change, set_co_units
from app.units.models import Unit


def _set_unit(ctx) -> None:
    code = ctx.fields.get("unit_code")
    if ctx.session.get(Unit, code) is None:
        raise field_error("unit_code", f"No unit with code {code!r}.")
    ctx.item.unit_code = code
    ctx.record.update(
        apply_lead_change(ctx.session, ctx.item, ctx.fields.get("co_unit_codes"), ctx.moment)
    )


def _clear_unit(ctx) -> None:
    """Off the lead unit (``return``): no lead, no dates, and no co-units either -- they
    work on the lead's item, and would otherwise keep seeing and changing an item nobody
    leads. (The next ``assign`` names them again; open measures pass to its lead.)"""
    ctx.item.unit_code = None
    ctx.item.due_date = None
    ctx.item.accept_due_date = None
    removed = list(ctx.item.co_unit_codes or [])
    if removed:
        set_co_units(ctx.session, ctx.item, [])
        ctx.record["co_unit_codes_removed"] = removed


def _check_future(ctx, due) -> None:
    validate_due_date(due, ctx.today)


def _default_due(ctx):
    period = ctx.workflow.sla.rectify_period(ctx.item.source, ctx.item.type)
    return ctx.calendar.period_end(ctx.today, period)


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
    period = ctx.workflow.sla.accept_period(ctx.item.source)
    ctx.item.accept_due_date = ctx.calendar.period_end(ctx.today, period)


def _mark_review_pending(ctx) -> None:
    ctx.item.review_pending = True
    ctx.item.review_requested_at = ctx.moment


def _shift_due_for_review(ctx) -> None:
    """The review pause: a request made on or before the due date moves it later by
    the workdays in (day of the request, today], so review time never counts
    against the unit. The ladder keeps its place (same deadline, moved)."""
    item, due = ctx.item, ctx.item.due_date
    if item.review_requested_at is None or due is None:
        return
    requested = to_local_date(item.review_requested_at)
    if requested > due:
        return
    paused = len(ctx.calendar.workdays_between(requested + timedelta(days=1), ctx.today))
    if not paused:
        return
    new_due = ctx.calendar.add_workdays(due, paused)
    if item.ladder_deadline == deadline_key("rectify", due):
        item.ladder_deadline = deadline_key("rectify", new_due)
    item.due_date = new_due
    ctx.record.update(previous_due_date=due.isoformat(), paused_workdays=paused)


def _require_new_evidence(ctx) -> None:
    """Evidence uploaded so far no longer satisfies a closure request."""
    ctx.item.evidence_floor = ctx.item.evidence_latest


def _resolve_rectified(ctx) -> None:
    """Closed as rectified; ``on_time`` iff the closure request was made on or before
    the due date in force and the rectify deadline never went red."""
    item = ctx.item
    item.resolution = "rectified"
    if item.due_date is None:
        item.on_time = None
        return
    requested = to_local_date(item.review_requested_at) if item.review_requested_at else ctx.today
    item.on_time = requested <= item.due_date and not item.rectify_was_overdue


def _clear_resolution(ctx) -> None:
    """Open again (``reopen``): no resolution, no on-time verdict. The entry records the
    ones the closure had (``previous_resolution``, ``previous_on_time``): the period report
    keeps counting that closure in its month as it was (``app.ledger.period``)."""
    item = ctx.item
    ctx.record.update(previous_resolution=item.resolution, previous_on_time=item.on_time)
    item.resolution = None
    item.on_time = None
    if item.duplicate_of is not None:
        _unmerge(ctx)


def _unmerge(ctx) -> None:
    """A duplicate reopened (a merge found wrong, 误合并) is an order of its own again:
    no longer counted on the original, whose chain records it (``merged_out``), and
    free to be merged again."""
    item = ctx.item
    stmt = select(Item).where(Item.id == item.duplicate_of).with_for_update()
    original = ctx.session.scalars(stmt).one()
    ctx.record.update(previous_duplicate_of=original.id)
    item.duplicate_of = None
    with change(ctx.session, original, at=ctx.moment, write="later") as unmerged:
        original.duplicate_count = max(original.duplicate_count - 1, 0)
        data = {"duplicate": item.id, "duplicate_number": item.number}
        unmerged.record("merged_out", actor=ctx.caller.actor, data=data)


def _record_satisfaction(ctx) -> None:
    satisfaction = ctx.fields["satisfaction"]
    ctx.item.satisfaction = satisfaction
    if satisfaction in SATISFIED:
        ctx.item.satisfied_callbacks += 1


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
    with change(ctx.session, original, at=ctx.moment, write="later") as merged:
        original.duplicate_count += 1
        data = {"duplicate": ctx.item.id, "duplicate_number": ctx.item.number}
        merged.record("merged_in", actor=ctx.caller.actor, data=data)


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
    "mark_review_pending": _mark_review_pending,
    "clear_review_pending": _setter("review_pending", False),
    "shift_due_for_review": _shift_due_for_review,
    "require_new_evidence": _require_new_evidence,
    "resolve_rectified": _resolve_rectified,
    "resolve_withdrawn": _setter("resolution", "withdrawn"),
    "clear_resolution": _clear_resolution,
    "record_satisfaction": _record_satisfaction,
    "count_redo": _count_redo,
    "set_redo_due_date": _set_redo_due_date,
    "mark_duplicate": _mark_duplicate,
}

RESOLVES: dict[str, str] = {
    "resolve_rectified": "rectified",
    "resolve_withdrawn": "withdrawn",
    "mark_duplicate": "duplicate",
}
"""The resolution each closing effect gives an item."""

SETS_DEADLINE = frozenset(
    {
        "set_due_date",
        "keep_due_date",
        "start_accept_deadline",
        "shift_due_for_review",
        "set_redo_due_date",
    }
)
"""Effects that set a deadline: the history entry of an action running one records the
effective dates (API.md), even when they come out as they were (a reassign on the day
of the assignment)."""
