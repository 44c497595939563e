"""Guards a workflow file may name. Each says which status refuses it.

A guard about the item's situation (``review_pending``) is a state conflict:
409. A guard about something the caller must supply first (evidence) is a
missing input: 422.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from app.items.models import Evidence


@dataclass(frozen=True)
class Guard:
    predicate: Callable
    status: int
    field: str
    message: str
    details: Callable | None = None
    """Optional: (detail, problem extensions) naming what blocks it now."""

    def explain(self, ctx) -> tuple[str, dict]:
        return self.details(ctx) if self.details else (self.message, {})


_ANY_EVIDENCE = select(Evidence.id).where(Evidence.item_id == bindparam("item_id")).limit(1)


def _has_evidence(ctx) -> bool:
    found = ctx.session.connection().scalar(_ANY_EVIDENCE, {"item_id": ctx.item.id})
    return found is not None


def _review_pending(ctx) -> bool:
    return bool(ctx.item.review_pending)


SETTLED = {"satisfied", "basically_satisfied", "unreachable"}


def _caller_settled(ctx) -> bool:
    return ctx.fields.get("satisfaction") in SETTLED


def _caller_dissatisfied(ctx) -> bool:
    return ctx.fields.get("satisfaction") == "dissatisfied"


def _has_unit(ctx) -> bool:
    return ctx.item.unit_code is not None


def _measures_settled(ctx) -> bool:
    return not ctx.item.measures_open


def _open_measures(ctx) -> tuple[str, dict]:
    from app.plans.service import open_measures  # plans build on items, not the reverse

    rows = open_measures(ctx.session, ctx.item.id)
    named = "、".join(f"{m.seq}.「{m.title}」" for m in rows)
    detail = (
        f"整改措施未全部完成（{len(rows)} 项未完成：{named}）；完成或列为长期坚持后再申请销号。"
    )
    return detail, {"open_measures": [{"id": m.id, "seq": m.seq, "title": m.title} for m in rows]}


MEASURES_SETTLED = "measures_settled"
"""Implied by every closure request (an action with ``mark_review_pending``): every
measure done or ongoing (``app.workflow.machine``)."""

REGISTRY: dict[str, Guard] = {
    "has_unit": Guard(
        _has_unit, 409, "unit_code", "The item was never handed to a unit; assign it instead."
    ),
    "has_evidence": Guard(
        _has_evidence,
        422,
        "evidence",
        "Upload at least one evidence file (佐证材料) before submitting.",
    ),
    MEASURES_SETTLED: Guard(
        _measures_settled,
        409,
        "measures",
        "Every measure must be done or ongoing before submitting.",
        _open_measures,
    ),
    "caller_settled": Guard(
        _caller_settled, 422, "satisfaction", "The callback result does not close the order."
    ),
    "caller_dissatisfied": Guard(
        _caller_dissatisfied, 422, "satisfaction", "The caller was not dissatisfied."
    ),
    "review_pending": Guard(
        _review_pending,
        409,
        "review_pending",
        "Only possible while a closure request is pending review.",
    ),
}
