"""HTTP for items: parse, authorise, call the service, set ETag."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Header, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app import metrics
from app.auth.models import Role
from app.auth.service import Caller
from app.deadlines import extensions
from app.deps import (
    AdminDep,
    BearerDep,
    CallerDep,
    Id,
    IfMatch,
    SessionDep,
    body_doc,
    get_caller_outside_transaction,
    in_unit_of_work,
    parse_body,
    require,
)
from app.errors import problems
from app.items import evidence as evidence_service
from app.items import history, service, transitions, writer
from app.items.batch import BatchRequest, run_batch
from app.items.params import ItemFiltersDep
from app.items.schemas import (
    ActionList,
    EvidenceList,
    EvidencePublic,
    HistoryList,
    HistoryPublic,
    HistoryVerification,
    HistoryVerificationAll,
    ItemCreate,
    ItemPage,
    ItemPublic,
    ItemUpdate,
    MergeRequest,
    TransitionRequest,
)
from app.kit import etag
from app.kit.cursors import PageLimit
from app.links import location
from app.writers import run_write

router = APIRouter(prefix="/items", tags=["items"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])

Editor = Annotated[object, require(Role.admin, Role.supervisor)]


def _item_response(item, status: int = 200) -> JSONResponse:
    return etag.json_response(writer.item_json(item), item.version, status)


# First of the API's routes (``main.create_app`` includes this router first): requests
# are matched route by route, and this is the one requested most.
@router.post(
    "/{item_id:int}/transitions",
    response_model=ItemPublic,
    openapi_extra=body_doc(TransitionRequest),
    responses=problems(409),
)
async def transition(item_id: Id, request: Request, token: BearerDep, if_match: IfMatch = None):
    raw = await request.body()

    def work(session, caller):
        body = parse_body(TransitionRequest, raw)
        item, text = transitions.transition_with_json(session, caller, item_id, body, if_match)
        return body.action, text, item.version

    action, text, version = await in_unit_of_work(request, token, work)
    metrics.TRANSITIONS.labels(action).inc()
    return etag.json_text_response(text, version)


@router.post("", status_code=201, response_model=ItemPublic, responses=problems(409))
def create_item(
    body: ItemCreate,
    session: SessionDep,
    caller: CallerDep,
    _e: Editor,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    data, created = service.create_item(session, caller, body, idempotency_key)
    headers = location(f"/items/{data['id']}")
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return etag.json_response(data, data["version"], 201, **headers)


@router.get("", response_model=ItemPage)
def list_items(
    session: SessionDep,
    caller: CallerDep,
    filters: ItemFiltersDep,
    limit: PageLimit = 50,
    cursor: str | None = None,
):
    return ItemPage.of(*service.list_items(session, caller, filters, cursor, limit))


@router.get("/{item_id:int}", response_model=ItemPublic)
def get_item(
    item_id: Id,
    session: SessionDep,
    caller: CallerDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
):
    item = writer.get_item(session, caller, item_id)
    if if_none_match is not None and etag.matches(item.version, if_none_match):
        return etag.not_modified(item.version)
    return _item_response(item)


@router.patch("/{item_id:int}", response_model=ItemPublic)
def update_item(
    item_id: Id,
    body: ItemUpdate,
    session: SessionDep,
    caller: CallerDep,
    if_match: IfMatch = None,
):
    """Edit descriptive fields, co-units and people (admin, supervisor); the lead
    unit may set ``responsible_person`` and ``responsible_leader``."""
    return _item_response(service.update_item(session, caller, item_id, body, if_match))


@router.get("/{item_id:int}/actions", response_model=ActionList)
def list_actions(item_id: Id, session: SessionDep, caller: CallerDep, lang: str = "zh"):
    item, lead = writer.get_item_as(session, caller, item_id)
    lang = "en" if lang == "en" else "zh"
    actions = transitions.action_infos(session, caller, item, lang, lead)
    extension = extensions.action_info(session, caller, item, lang, lead)
    return ActionList(actions=actions + ([extension] if extension else []))


class BatchItemResult(BaseModel):
    id: int
    status: int
    item: ItemPublic | None = None
    problem: dict | None = None


class BatchResult(BaseModel):
    results: list[BatchItemResult]
    succeeded: int
    failed: int


@router.post("/batch", response_model=BatchResult, openapi_extra=body_doc(BatchRequest))
async def batch(request: Request, token: BearerDep):
    """One action on 1..500 items, each in its own transaction: 200 with every item's
    result (``status`` 200 and the item, or the problem a single request would get)."""
    raw = await request.body()

    def prepare() -> tuple[Caller, BatchRequest]:
        return get_caller_outside_transaction(token, request), parse_body(BatchRequest, raw)

    caller, body = await run_in_threadpool(prepare)
    result = await run_write(request, partial(run_batch, request.app.state.engine, caller, body))
    if result["succeeded"]:
        metrics.TRANSITIONS.labels(body.action).inc(result["succeeded"])
    return JSONResponse(result)


@router.post("/{item_id:int}/merge", response_model=ItemPublic, responses=problems(409))
def merge_item(
    item_id: Id,
    body: MergeRequest,
    session: SessionDep,
    caller: CallerDep,
    _e: Editor,
    if_match: IfMatch = None,
):
    """重复件: close this order as a duplicate of ``into`` (the workflow's ``merge`` action)."""
    request = TransitionRequest(action="merge", into=body.into, comment=body.comment)
    item, text = transitions.transition_with_json(session, caller, item_id, request, if_match)
    metrics.TRANSITIONS.labels("merge").inc()
    return etag.json_text_response(text, item.version)


@router.get("/{item_id:int}/history", response_model=HistoryList)
def get_history(item_id: Id, session: SessionDep, caller: CallerDep):
    writer.get_item(session, caller, item_id)
    return HistoryList(
        data=[
            HistoryPublic.model_validate(e, from_attributes=True)
            for e in history.entries(session, item_id)
        ]
    )


@router.get("/{item_id:int}/history/verify", response_model=HistoryVerification)
def verify_history(item_id: Id, session: SessionDep, caller: CallerDep):
    item = writer.get_item(session, caller, item_id)
    ok, count, broken = history.verify(session, item)
    return HistoryVerification(ok=ok, entries=count, broken_seq=broken)


@admin_router.get("/history/verify", response_model=HistoryVerificationAll)
def verify_all_history(session: SessionDep, _admin: AdminDep):
    """Every item's history chain and its anchor under the history key."""
    return history.verify_all(session)


@router.post(
    "/{item_id:int}/evidence",
    status_code=201,
    response_model=EvidencePublic,
    responses=problems(409),
)
def upload_evidence(
    item_id: Id,
    session: SessionDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File()],
    response: Response,
    if_match: IfMatch = None,
):
    evidence = evidence_service.upload(session, caller, item_id, file, if_match)
    response.headers.update(location(f"/items/{item_id}/evidence/{evidence.id}"))
    return evidence


@router.get("/{item_id:int}/evidence", response_model=EvidenceList)
def list_evidence(item_id: Id, session: SessionDep, caller: CallerDep):
    return EvidenceList(
        data=[
            EvidencePublic.model_validate(e, from_attributes=True)
            for e in evidence_service.list_evidence(session, caller, item_id)
        ]
    )


class WholeFile(FileResponse):
    """A file sent whole, whatever ``Range`` asks (a server may ignore it, RFC 9110
    14.2), with ``Accept-Ranges: none``: evidence is at most ``RECTIFY_MAX_UPLOAD_MB``,
    and a range would answer statuses the contract has not (206, and a plain-text 416
    instead of problem+json)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.headers["accept-ranges"] = "none"

    async def __call__(self, scope, receive, send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


@router.get("/{item_id:int}/evidence/{evidence_id:int}")
def download_evidence(item_id: Id, evidence_id: Id, session: SessionDep, caller: CallerDep):
    ev = evidence_service.get_evidence(session, caller, item_id, evidence_id)
    return WholeFile(
        evidence_service.blob_path(ev.sha256),
        media_type=evidence_service.media_type(ev.content_type),
        filename=ev.filename,
        content_disposition_type="attachment",
        headers={"X-Content-SHA256": ev.sha256},
    )
