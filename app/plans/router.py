"""HTTP for measures (整改措施) and their progress reports; the rules are in the service."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.deps import CallerDep, Id, IfMatch, SessionDep
from app.errors import problems
from app.items.models import Item
from app.kit import etag
from app.plans import reads, service
from app.plans.schemas import (
    MeasureComment,
    MeasureCreate,
    MeasureList,
    MeasurePublic,
    MeasureUpdate,
    ProgressCreate,
    ProgressList,
    ProgressPublic,
)

router = APIRouter(prefix="/items/{item_id:int}/measures", tags=["measures"])


def _public(m) -> MeasurePublic:
    return MeasurePublic.model_validate(m, from_attributes=True)


def _with_items_etag(
    session: Session, item_id: int, body: dict, status: int = 200, **headers: str
) -> JSONResponse:
    """``body`` with its item's ETag: a measure's change is a change of the item (its
    version), and ``If-Match`` on the next one names that version."""
    item = session.get(Item, item_id)  # loaded (and locked, on a change) by the service
    assert item is not None
    return etag.json_response(body, item.version, status, **headers)


def _answer(session: Session, m, status: int = 200, **headers: str) -> JSONResponse:
    return _with_items_etag(session, m.item_id, reads.measure_json(m), status, **headers)


@router.post("", status_code=201, response_model=MeasurePublic, responses=problems(409))
def create_measure(
    item_id: Id,
    body: MeasureCreate,
    session: SessionDep,
    caller: CallerDep,
    if_match: IfMatch = None,
):
    """Add a measure (supervisor, or the lead unit while the item is assigned or
    rectifying); ``unit_code`` defaults to the lead unit."""
    m = service.add_measure(session, caller, item_id, body, if_match)
    return _answer(session, m, 201, Location=f"/api/v1/items/{item_id}/measures/{m.id}")


@router.get("", response_model=MeasureList)
def list_measures(item_id: Id, session: SessionDep, caller: CallerDep):
    return MeasureList(data=[_public(m) for m in reads.list_measures(session, caller, item_id)])


@router.get("/{measure_id:int}", response_model=MeasurePublic)
def get_measure(item_id: Id, measure_id: Id, session: SessionDep, caller: CallerDep):
    return _answer(session, reads.get_measure(session, caller, item_id, measure_id))


@router.patch("/{measure_id:int}", response_model=MeasurePublic, responses=problems(409))
def update_measure(
    item_id: Id,
    measure_id: Id,
    body: MeasureUpdate,
    session: SessionDep,
    caller: CallerDep,
    if_match: IfMatch = None,
):
    """Edit an open measure (supervisor or the lead unit)."""
    changed = service.update_measure(session, caller, item_id, measure_id, body, if_match)
    return _answer(session, changed)


@router.post(
    "/{measure_id:int}/progress",
    status_code=201,
    response_model=ProgressPublic,
    responses=problems(409),
)
def report_progress(
    item_id: Id,
    measure_id: Id,
    body: ProgressCreate,
    session: SessionDep,
    caller: CallerDep,
    if_match: IfMatch = None,
):
    """A progress report (阶段性进展): the measure's unit, the lead unit or a supervisor."""
    p = service.report_progress(session, caller, item_id, measure_id, body, if_match)
    return _with_items_etag(
        session,
        item_id,
        {"id": p.id, **reads.progress_json(p)},
        201,
        Location=f"/api/v1/items/{item_id}/measures/{measure_id}/progress/{p.id}",
    )


@router.get("/{measure_id:int}/progress", response_model=ProgressList)
def list_progress(item_id: Id, measure_id: Id, session: SessionDep, caller: CallerDep):
    rows = reads.list_progress(session, caller, item_id, measure_id)
    return ProgressList(data=[ProgressPublic.model_validate(p, from_attributes=True) for p in rows])


@router.get("/{measure_id:int}/progress/{progress_id:int}", response_model=ProgressPublic)
def get_progress(
    item_id: Id, measure_id: Id, progress_id: Id, session: SessionDep, caller: CallerDep
):
    p = reads.get_progress(session, caller, item_id, measure_id, progress_id)
    return ProgressPublic.model_validate(p, from_attributes=True)


@router.post("/{measure_id:int}/complete", response_model=MeasurePublic, responses=problems(409))
def complete_measure(
    item_id: Id,
    measure_id: Id,
    body: MeasureComment,
    session: SessionDep,
    caller: CallerDep,
    if_match: IfMatch = None,
):
    """Done (``ongoing`` for a long-term measure): the measure's unit or the lead unit."""
    done = service.complete_measure(session, caller, item_id, measure_id, body.comment, if_match)
    return _answer(session, done)


@router.post("/{measure_id:int}/reopen", response_model=MeasurePublic, responses=problems(409))
def reopen_measure(
    item_id: Id,
    measure_id: Id,
    body: MeasureComment,
    session: SessionDep,
    caller: CallerDep,
    if_match: IfMatch = None,
):
    """Back to ``open`` (supervisor)."""
    back = service.reopen_measure(session, caller, item_id, measure_id, body.comment, if_match)
    return _answer(session, back)
