"""HTTP for the ledger (台账): export, import, reports.

Report definitions:

- ``total``: items matching the filters; ``by_state``: items per workflow
  state, every state listed (zeros included), summing to ``total``.
- ``closed``: items in a final state, rectified or withdrawn; ``open`` =
  ``total`` - ``closed``; ``rectified``: closed with resolution ``rectified``.
- ``overdue``: items whose light is ``red``.
- ``rectification_rate`` (整改率) = rectified / (items whose ``due_date`` is
  before today, local time, or that are closed as rectified); withdrawn items
  count in neither; ``null`` when the denominator is 0.
- ``on_time_rate`` (按期整改率) = items with ``on_time`` true / items with
  ``on_time`` set (closed as rectified: the closure request made on or before
  the due date in force, the rectify deadline never red); ``null`` when the
  denominator is 0.
- ``from``/``to`` filter on the local date of ``created_at``, both inclusive.
- ``/reports/units``: one row per unit; an item counts for the unit it is
  assigned to (not its parents); unassigned items form one row with
  ``unit_code: null``, so the rows add up to the summary. Unit keys see only
  their own subtree, in both reports.
"""

from enum import StrEnum
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from app.auth.models import Role
from app.auth.service import Caller, with_unit_codes
from app.clock import now, today
from app.db import unit_of_work
from app.deps import CallerDep, SessionDep, get_caller_outside_transaction
from app.errors import BadRequest, Forbidden, PayloadTooLarge, problems
from app.items.models import ItemType, Source
from app.items.params import ItemFiltersDep, refuse_nul
from app.kit.dates import IsoDate
from app.ledger import documents, export, importer, period, reports
from app.links import location
from app.settings import get_settings
from app.units.models import Unit
from app.writers import run_write

router = APIRouter(tags=["ledger"])
CHUNK = 1 << 20


class ExportFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"


def report_filters(
    campaign: str | None = None,
    source: Source | None = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: IsoDate | None = None,
    type: ItemType | None = None,
) -> reports.ReportFilters:
    refuse_nul(campaign=campaign)
    if from_ and to and to < from_:
        raise BadRequest("'to' must be on or after 'from'.")
    return reports.ReportFilters(campaign, source, from_, to, type)


@router.get("/items/export", response_class=StreamingResponse)
def export_items(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    filters: ItemFiltersDep,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.xlsx,
    rows: export.ExportRows = export.ExportRows.items,
):
    """The ledger of every matching item (not paged): xlsx, or csv in UTF-8 with BOM;
    one row per item, or per measure with ``rows=measures``."""
    unit_path = None
    if filters.unit:
        unit_path = session.scalar(select(col(Unit.path)).where(col(Unit.code) == filters.unit))
    query = export.ExportQuery(with_unit_codes(session, caller), filters, unit_path)
    settings = get_settings()
    stamp = now(session).astimezone(settings.tz).strftime("%Y%m%d-%H%M")
    engine = request.app.state.engine
    per_measure = rows == export.ExportRows.measures
    fmt = export.RowFormatter(settings.tz, export.unit_names(session), per_measure)
    name, fallback = f"台账-{stamp}.{format_}", f"ledger-{stamp}.{format_}"
    headers = {"Content-Disposition": export.content_disposition(name, fallback)}
    if format_ == ExportFormat.csv:
        return StreamingResponse(
            export.csv_chunks(export.batches(engine, query), fmt),
            media_type=export.CSV_MEDIA_TYPE,
            headers=headers,
        )
    return StreamingResponse(
        export.xlsx_chunks(export.batches(engine, query), fmt),
        media_type=export.XLSX_MEDIA_TYPE,
        headers=headers,
    )


def _read_upload(file: UploadFile) -> bytes:
    limit = get_settings().max_upload_bytes
    parts, size = [], 0
    while chunk := file.file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Uploads are limited to {get_settings().max_upload_mb} MB.")
        parts.append(chunk)
    return b"".join(parts)


def _editor_outside_transaction(
    caller: Annotated[Caller, Depends(get_caller_outside_transaction)],
) -> Caller:
    if caller.role not in (Role.admin, Role.supervisor):
        raise Forbidden("This needs the role admin or supervisor.")
    return caller


class Lang(StrEnum):
    zh = "zh"
    en = "en"


@router.post("/items/import", responses=problems(409))
async def import_items(
    request: Request,
    caller: Annotated[Caller, Depends(_editor_outside_transaction)],
    file: Annotated[UploadFile, File(description="the ledger, .xlsx or .csv")],
    dry_run: bool = False,
    mode: importer.Mode = importer.Mode.create,
    lang: Lang = Lang.zh,
    source: Annotated[Source | None, Query(description="来源 of rows that name none")] = None,
):
    """Create one item per row, all or none; ``mode=upsert`` updates the items whose
    外部编号 a row names; ``dry_run`` only checks the file. Row errors in Chinese, or
    English with ``lang=en``.

    The file is parsed and every row checked before the write transaction
    opens (and, on SQLite, before the request queues for its write turn:
    ``app.writers``), so other writers wait only while the rows are written."""
    options = importer.Options(
        mode=mode,
        lang=lang.value,
        default_source=source.value if source else None,
        dry_run=dry_run,
    )
    engine = request.app.state.engine

    def parse_and_check() -> importer.Plan:
        with importer.few_collections():
            ledger = importer.parse(_read_upload(file), file.filename, options.lang)
            with unit_of_work(write=False, engine=engine) as session:
                return importer.check(session, ledger, options)

    def write(planned: importer.Plan) -> dict:
        with importer.few_collections(), unit_of_work(write=True, engine=engine) as session:
            return importer.write(session, caller, planned, options)

    planned = await run_in_threadpool(parse_and_check)
    if dry_run:
        return JSONResponse(importer.dry_run_answer(planned, options), status_code=200)
    result = await run_write(request, partial(write, planned))
    return JSONResponse(result, status_code=201, headers=location("/items"))


@router.get("/reports/summary")
def report_summary(
    session: SessionDep,
    caller: CallerDep,
    filters: Annotated[reports.ReportFilters, Depends(report_filters)],
):
    return reports.summary(session, caller, filters)


@router.get("/reports/units")
def report_units(
    session: SessionDep,
    caller: CallerDep,
    filters: Annotated[reports.ReportFilters, Depends(report_filters)],
):
    return reports.units(session, caller, filters)


class ReportFormat(StrEnum):
    json = "json"
    xlsx = "xlsx"
    docx = "docx"


class CircularFormat(StrEnum):
    json = "json"
    docx = "docx"


def _document(content: bytes, media_type: str, name: str, fallback: str) -> Response:
    disposition = export.content_disposition(name, fallback)
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get("/reports/period")
def report_period(
    session: SessionDep,
    caller: CallerDep,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: IsoDate | None = None,
    group: period.Group = period.Group.source,
    format_: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.json,
    source: Source | None = None,
    campaign: str | None = None,
    type_: Annotated[ItemType | None, Query(alias="type")] = None,
):
    """月度调度: new, closed and cumulative figures of ``from``..``to`` (default: this
    month so far) by source or by top-level unit (ranked); json, xlsx (with a bar
    chart) or docx."""
    refuse_nul(campaign=campaign)
    to = to or today(session)
    from_ = from_ or to.replace(day=1)
    if to < from_:
        raise BadRequest("'to' must be on or after 'from'.")
    if from_ < period.EARLIEST or to > period.LATEST:
        raise BadRequest(f"'from' and 'to' must lie in {period.EARLIEST}..{period.LATEST}.")
    report = period.period_report(
        session, caller, period.Period(from_, to, group, source, campaign, type_)
    )
    if format_ == ReportFormat.json:
        return report
    stem = f"整改进展情况-{from_:%Y%m%d}-{to:%Y%m%d}"
    fallback = f"period-{from_:%Y%m%d}-{to:%Y%m%d}"
    if format_ == ReportFormat.xlsx:
        content = documents.period_xlsx(report)
        return _document(content, export.XLSX_MEDIA_TYPE, f"{stem}.xlsx", f"{fallback}.xlsx")
    escalated = period.circular(session, caller, min_level=2, limit=documents.LISTED_ITEMS)
    content = documents.period_docx(report, escalated, today(session))
    return _document(content, documents.DOCX_MEDIA_TYPE, f"{stem}.docx", f"{fallback}.docx")


@router.get("/reports/circular")
def report_circular(
    session: SessionDep,
    caller: CallerDep,
    min_level: Annotated[int, Query(ge=0, le=10)] = 2,
    format_: Annotated[CircularFormat, Query(alias="format")] = CircularFormat.json,
):
    """通报: the lead units with open items at ``min_level`` or above now, and those items."""
    result = period.circular(session, caller, min_level)
    if format_ == CircularFormat.json:
        return result
    day = today(session).isoformat()
    content = documents.circular_docx(result, day)
    name = f"整改逾期情况通报-{day}.docx"
    return _document(content, documents.DOCX_MEDIA_TYPE, name, f"circular-{day}.docx")
