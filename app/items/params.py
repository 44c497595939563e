"""Query parameters shared by every endpoint that filters items (list, export)."""

from typing import Annotated

from fastapi import Depends, Query

from app.errors import BadRequest
from app.items.models import ItemType, Light, Source
from app.items.queries import ItemFilters
from app.kit.dates import IsoDate
from app.workflow.registry import registry


def refuse_nul(**params: str | None) -> None:
    """PostgreSQL cannot store or compare NUL characters: refuse them up front."""
    bad = [name for name, value in params.items() if value and "\x00" in value]
    if bad:
        raise BadRequest(
            "Query parameters must not contain NUL characters.",
            errors=[{"field": name, "message": "contains a NUL character"} for name in bad],
        )


def _check_states(state: str) -> None:
    """400 unless every name of the comma-separated ``state`` is a state of a loaded
    workflow (an item's state is one of its workflow's)."""
    known = {s.name for wf in registry.workflows.values() for s in wf.states}
    unknown = [name for name in state.split(",") if name not in known]
    if unknown:
        raise BadRequest(
            f"No workflow has a state {unknown[0]!r}.",
            errors=[{"field": "state", "message": f"one of {', '.join(sorted(known))}"}],
        )


def item_filters(
    state: str | None = None,
    unit: str | None = None,
    source: Source | None = None,
    campaign: str | None = None,
    light: Light | None = None,
    overdue: bool | None = None,
    review_pending: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    due_before: IsoDate | None = None,
    due_after: IsoDate | None = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    external_ref: Annotated[str | None, Query(max_length=200)] = None,
    type: ItemType | None = None,
    was_overdue: bool | None = None,
) -> ItemFilters:
    """The filters of GET /items."""
    refuse_nul(state=state, unit=unit, campaign=campaign, q=q, tag=tag, external_ref=external_ref)
    if state:
        _check_states(state)
    return ItemFilters(
        state,
        unit,
        source,
        campaign,
        light,
        overdue,
        review_pending,
        q,
        due_before,
        due_after,
        tag,
        external_ref,
        type,
        was_overdue,
    )


ItemFiltersDep = Annotated[ItemFilters, Depends(item_filters)]
