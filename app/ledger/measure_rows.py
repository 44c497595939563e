"""The measures a ledger's rows name, planned before anything is written.

New measures are checked by the rules of ``app.plans.service`` (``new_measure``)
against the item as it will be once written, so a refusal is a row error in
the user's language, not a failed write; the measures an upsert finds already
on the item are compared on what the file says of them.
"""

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from app.deadlines.schedule import MAX_DUE_DAYS
from app.errors import ActionNotAllowed, ProblemError
from app.ledger.cells import one_line
from app.ledger.messages import validation_error
from app.ledger.rows import Draft, RowCheck
from app.plans.models import Measure, MeasureStatus
from app.plans.schemas import MeasureCreate
from app.plans.service import new_measure
from app.workflow.registry import registry

LOOKUP_CHUNK = 500


def existing_measures(session: Session, item_ids: list[int]) -> dict[int, dict[str, Measure]]:
    """The measures of these items, by item and text (as a ledger line: ``one_line``)."""
    found: dict[int, dict[str, Measure]] = {}
    for start in range(0, len(item_ids), LOOKUP_CHUNK):
        chunk = item_ids[start : start + LOOKUP_CHUNK]
        stmt = select(Measure).where(col(Measure.item_id).in_(chunk)).order_by(col(Measure.seq))
        for measure in session.scalars(stmt):
            found.setdefault(measure.item_id, {}).setdefault(one_line(measure.title), measure)
    return found


def check_due(
    check: RowCheck, due: date | None, today: date, key: str = "due_date", at_row: int | None = None
) -> None:
    if due is None:
        return
    if due < today:
        check.fail(key, "past", at_row, value=due, today=today)
    elif (due - today).days > MAX_DUE_DAYS:
        check.fail(key, "too_far", at_row, value=due)


_STATUS_ZH = {MeasureStatus.done: "完成", MeasureStatus.ongoing: "转为长期坚持"}
_RULE_FIELDS = {"unit_code": ("measure_unit", "measure_unit"), "due_date": ("measure_due", None)}


@dataclass(frozen=True)
class Rules:
    """What the measure rules need while planning: the clock and the calendar."""

    today: date
    moment: Any
    calendar: Any


def stand_in(item_like, **overrides) -> SimpleNamespace:
    """The fields of an item the measure rules read, as they will be when it is written."""
    names = (
        "id",
        "state",
        "workflow_name",
        "workflow_version",
        "unit_code",
        "due_date",
        "review_pending",
    )
    fields = {n: getattr(item_like, n, None) for n in names}
    fields["co_unit_codes"] = list(getattr(item_like, "co_unit_codes", None) or [])
    return SimpleNamespace(**(fields | overrides))


def checked_measures(check: RowCheck, measures: list, item, rules: Rules) -> list[MeasureCreate]:
    """The row's new measures, each checked by ``app.plans.service.new_measure`` against
    the item as it will be; a refusal is a row error in the user's language."""
    result = []
    for m in measures:
        before = len(check.errors)
        if m.due_given:
            check_due(check, m.due_date, rules.today, "measure_due", m.row)
        kind, due = m.kind, m.due_date
        if not (m.kind_given or m.due_given) and due is None and item.due_date is not None:
            # an upsert's row leaves 整改时限 empty (the item's): its measures default
            # as a new item's do, to the item's deadline
            kind, due = "deadline", item.due_date
        try:
            data = MeasureCreate(title=m.title, kind=kind, unit_code=m.unit_code, due_date=due)
        except ValidationError as exc:
            code, params = validation_error(exc.errors()[0])
            check.fail("measures", code, m.row, **params)
            continue
        if len(check.errors) > before:
            continue
        try:
            new_measure(item, data, seq=0, moment=rules.moment, calendar=rules.calendar)
        except ProblemError as exc:
            _refused(check, m, data, item, rules, exc)
            continue
        result.append(data)
    return result


def _refused(check: RowCheck, m, data: MeasureCreate, item, rules: Rules, exc: ProblemError):
    """``new_measure``'s refusal as the row's error, said in the row's language: each rule
    has its message (the service's English text is kept for ``lang=en`` alone)."""
    if isinstance(exc, ActionNotAllowed):  # the item is closed, or its closure asked
        wf = registry.get(item.workflow_name, item.workflow_version)
        closed = wf.state(item.state).final
        refusal = "measure_item_closed" if closed else "measure_item_settled"
        check.fail("measures", refusal, m.row, title=m.title)
        return
    errors = exc.extensions.get("errors") or [{}]
    key, code = _RULE_FIELDS.get(errors[0].get("field"), ("measures", None))
    if key == "measure_due":
        if data.kind == "long_term":
            check.fail(key, "long_term_no_due", m.row, value=data.due_date)
            return
        if data.kind == "deadline" and data.due_date is None:
            check.fail(key, "measure_needs_due", m.row, title=m.title)
            return
        before = len(check.errors)  # ``validate_due_date``: in the past, or too far
        check_due(check, data.due_date or item.due_date, rules.today, key, m.row)
        if len(check.errors) > before:
            return
    if code:
        check.fail(key, code, m.row, title=m.title)
    else:
        check.fail(key, "measure_refused", m.row, title=m.title, why=exc.detail)


def measure_changes(check: RowCheck, draft: Draft, existing: dict[str, Measure], today: date):
    """(measure id, changed fields) for the row's measures the item has, on what the
    file says of them (措施类型, 措施时限, 措施责任单位)."""
    changes = []
    for m in draft.measures:
        current = existing.get(m.title)
        if current is None:
            continue
        diff: dict[str, Any] = {}
        if m.kind_given and m.kind != current.kind:
            diff["kind"] = m.kind
        if m.due_given and m.due_date != current.due_date:
            diff["due_date"] = m.due_date
        if m.unit_given and m.unit_code != current.unit_code:
            diff["unit_code"] = m.unit_code
        if not diff:
            continue
        if current.status != MeasureStatus.open:
            status: str = current.status
            if check.lang != "en":
                status = _STATUS_ZH.get(current.status, current.status)
            check.fail("measures", "measure_closed", m.row, title=m.title, status=status)
            continue
        if diff.get("due_date"):
            check_due(check, diff["due_date"], today, "measure_due", m.row)
        changes.append((current.id, diff))
    return changes
