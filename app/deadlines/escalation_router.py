"""Extensions, manual escalation, the escalation list and the scan trigger."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StrictInt

from app.auth.models import Role
from app.deadlines import escalation, extensions
from app.deadlines.scan import run_scan
from app.deps import CallerDep, Id, IfMatch, SessionDep, StandaloneAdminDep, require
from app.errors import problems
from app.items.schemas import ItemPage
from app.items.writer import item_json
from app.kit import etag
from app.kit.cursors import PageLimit
from app.kit.dates import IsoDate
from app.links import location

router = APIRouter(tags=["deadlines"])
Supervising = Annotated[object, require(Role.admin, Role.supervisor)]


class ExtensionRequest(BaseModel):
    due_date: IsoDate
    reason: str = Field(min_length=1, max_length=5000)


class Decision(BaseModel):
    comment: str | None = Field(default=None, max_length=5000)


class EscalateRequest(BaseModel):
    level: StrictInt | None = Field(default=None, ge=1, le=10)
    reason: str = Field(min_length=1, max_length=5000)


@router.post("/items/{item_id:int}/extensions", status_code=201, responses=problems(409))
def request_extension(
    item_id: Id,
    body: ExtensionRequest,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    if_match: IfMatch = None,
):
    ext = extensions.request_extension(
        session, caller, item_id, body.due_date, body.reason, if_match
    )
    response.headers.update(location(f"/items/{item_id}/extensions/{ext.id}"))
    return extensions.public(ext)


@router.get("/items/{item_id:int}/extensions")
def list_extensions(item_id: Id, session: SessionDep, caller: CallerDep):
    return {
        "data": [extensions.public(e) for e in extensions.list_extensions(session, caller, item_id)]
    }


@router.get("/items/{item_id:int}/extensions/{ext_id:int}")
def get_extension(item_id: Id, ext_id: Id, session: SessionDep, caller: CallerDep):
    return extensions.public(extensions.get_extension(session, caller, item_id, ext_id))


@router.post("/items/{item_id:int}/extensions/{ext_id:int}/approve", responses=problems(409))
def approve_extension(
    item_id: Id,
    ext_id: Id,
    session: SessionDep,
    caller: CallerDep,
    body: Decision | None = None,
    if_match: IfMatch = None,
):
    comment = body.comment if body else None
    decided = extensions.decide(session, caller, item_id, ext_id, True, comment, if_match)
    return extensions.public(decided)


@router.post("/items/{item_id:int}/extensions/{ext_id:int}/reject", responses=problems(409))
def reject_extension(
    item_id: Id,
    ext_id: Id,
    session: SessionDep,
    caller: CallerDep,
    body: Decision | None = None,
    if_match: IfMatch = None,
):
    comment = body.comment if body else None
    decided = extensions.decide(session, caller, item_id, ext_id, False, comment, if_match)
    return extensions.public(decided)


@router.post("/admin/items/{item_id:int}/escalate", responses=problems(409))
def escalate(
    item_id: Id,
    body: EscalateRequest,
    session: SessionDep,
    caller: CallerDep,
    _s: Supervising,
    if_match: IfMatch = None,
):
    item = escalation.escalate(session, caller, item_id, body.level, body.reason, if_match)
    return etag.json_response(item_json(item), item.version)


@router.get("/admin/escalations", response_model=ItemPage)
def escalations(
    session: SessionDep,
    caller: CallerDep,
    _s: Supervising,
    level: Annotated[int, Query(ge=0, le=10)] = 1,
    unit: str | None = None,
    limit: PageLimit = 50,
    cursor: str | None = None,
):
    return ItemPage.of(*escalation.escalated_items(session, caller, level, unit, cursor, limit))


@router.post("/admin/scheduler/tick")
async def tick(request: Request, _admin: StandaloneAdminDep):
    """Run one deadline scan now, in its own transactions."""
    result = await run_in_threadpool(run_scan, request.app.state.engine)
    return {"checked": result["checked"], "fired": result["fired"]}
