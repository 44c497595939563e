"""Guards a workflow file may name. Each says which status refuses it.

A guard about the item's situation (``review_pending``) is a state conflict:
409. A guard about something the caller must supply first (evidence) is a
missing input: 422. ``reason`` is the Chinese text a front end shows beside
the greyed-out button (GET /items/{id}/actions).
"""

from collections.abc import Callable
from dataclasses import dataclass

from app.plans.queries import open_measures


@dataclass(frozen=True)
class Guard:
    predicate: Callable
    status: int
    field: str
    message: str
    reason: str
    """The Chinese reason ``/actions`` shows beside a greyed button."""
    details: Callable | None = None
    """Optional: (detail, problem extensions) naming what blocks it now."""

    def explain(self, ctx) -> tuple[str, dict]:
        return self.details(ctx) if self.details else (self.message, {})


def _has_evidence(ctx) -> bool:
    """Evidence newer than the latest reject/reopen (``evidence_floor``), if any."""
    return ctx.item.evidence_latest > ctx.item.evidence_floor


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
    rows = open_measures(ctx.session, ctx.item.id)
    named = "、".join(f"{m.seq}.「{m.title}」" for m in rows)
    detail = (
        f"整改措施未全部完成（{len(rows)} 项未完成：{named}）；完成或列为长期坚持后再申请销号。"
    )
    return detail, {"open_measures": [{"id": m.id, "seq": m.seq, "title": m.title} for m in rows]}


MEASURES_SETTLED = "measures_settled"
"""Implied by every closure request (an action with ``mark_review_pending``) and every
closure as rectified (``resolve_rectified``): every measure done or ongoing
(``app.workflow.machine``)."""

REGISTRY: dict[str, Guard] = {
    "has_unit": Guard(
        _has_unit,
        409,
        "unit_code",
        "The item was closed before it was ever handed to a unit: there is no "
        "rectification to look back on; create a new item if one is needed.",
        "该问题未交办即已办结（撤销或并入重复件），没有可回头看的整改；如需整改请新建问题",
    ),
    "has_evidence": Guard(
        _has_evidence,
        422,
        "evidence",
        "Upload at least one evidence file (佐证材料) before submitting; after a "
        "rejection or reopening, one uploaded since.",
        "请先上传佐证材料（退回重整或回头看后须上传新的佐证材料）",
    ),
    MEASURES_SETTLED: Guard(
        _measures_settled,
        409,
        "measures",
        "Every measure must be done or ongoing before submitting.",
        "整改措施未全部完成（完成或列为长期坚持后再申请销号）",
        _open_measures,
    ),
    "caller_settled": Guard(
        _caller_settled,
        422,
        "satisfaction",
        "The callback result does not close the order.",
        "回访结果不能办结该工单",
    ),
    "caller_dissatisfied": Guard(
        _caller_dissatisfied,
        422,
        "satisfaction",
        "The caller was not dissatisfied.",
        "来电人并非不满意",
    ),
    "review_pending": Guard(
        _review_pending,
        409,
        "review_pending",
        "Only possible while a closure request is pending review.",
        "没有待审核的销号申请",
    ),
}
