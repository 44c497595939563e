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
- ``on_time_rate`` (按期整改率) = items closed as rectified whose ``closed_at``
  local date is on or before ``due_date`` / items closed as rectified that
  have a ``due_date``; ``null`` when the denominator is 0.
- ``from``/``to`` filter on the local date of ``created_at``, both inclusive.
- ``/reports/units``: one row per unit; an item counts for the unit it is
  assigned to (not its parents); unassigned items form one row with
  ``unit_code: null``, so the rows add up to the summary. Unit keys see only
  their own subtree, in both reports.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from app.auth.models import Role
from app.auth.service import with_unit_codes
from app.clock import now
from app.deps import CallerDep, SessionDep, require
from app.errors import BadRequest, PayloadTooLarge
from app.items.models import Source
from app.items.params import ItemFiltersDep, refuse_nul
from app.ledger import export, importer, reports
from app.links import location
from app.settings import get_settings
from app.units.models import Unit

router = APIRouter(tags=["ledger"])
Editor = Annotated[object, require(Role.admin, Role.supervisor)]
CHUNK = 1 << 20


class ExportFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"


def report_filters(
    campaign: str | None = None,
    source: Source | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> reports.ReportFilters:
    refuse_nul(campaign=campaign)
    if from_ and to and to < from_:
        raise BadRequest("'to' must be on or after 'from'.")
    return reports.ReportFilters(campaign, source, from_, to)


@router.get("/items/export", response_class=StreamingResponse)
def export_items(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    filters: ItemFiltersDep,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.xlsx,
):
    """The ledger of every matching item (not paged): xlsx, or csv in UTF-8 with BOM."""
    unit_path = None
    if filters.unit:
        unit_path = session.scalar(select(Unit.path).where(Unit.code == filters.unit))
    query = export.ExportQuery(with_unit_codes(session, caller), filters, unit_path)
    settings = get_settings()
    stamp = now(session).astimezone(settings.tz).strftime("%Y%m%d-%H%M")
    engine = request.app.state.engine
    fmt = export.RowFormatter(settings.tz)
    name, fallback = f"台账-{stamp}.{format_}", f"ledger-{stamp}.{format_}"
    headers = {"Content-Disposition": export.content_disposition(name, fallback)}
    if format_ == ExportFormat.csv:
        return StreamingResponse(
            export.csv_chunks(export.batches(engine, query), fmt),
            media_type=export.CSV_MEDIA_TYPE,
            headers=headers,
        )
    handle, size = export.xlsx_file(export.batches(engine, query), fmt)
    return StreamingResponse(
        export.file_chunks(handle),
        media_type=export.XLSX_MEDIA_TYPE,
        headers={**headers, "Content-Length": str(size)},
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


@router.post("/items/import")
def import_items(
    session: SessionDep,
    caller: CallerDep,
    _e: Editor,
    file: Annotated[UploadFile, File(description="the ledger, .xlsx or .csv")],
    dry_run: bool = False,
):
    """Create one item per row, all or none; ``dry_run`` only checks the file."""
    result = importer.import_ledger(
        session, caller, _read_upload(file), file.filename, dry_run=dry_run
    )
    if dry_run:
        return JSONResponse(result)
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
