"""Import a ledger: validate every row first, then create all of them or none.

A row with 责任单位 and 整改时限 is created and assigned in the same request,
through the same services as ``POST /items`` and ``POST /items/{id}/transitions``
(history shows ``create`` then ``assign``); a row with neither is created
``found``. Units are resolved once for the whole file.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from app.auth.service import Caller
from app.clock import now, to_local_date
from app.errors import Invalid, ProblemError
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import new_item
from app.items.transitions import transition
from app.ledger.columns import (
    ZH_OF,
    read_severity,
    read_source,
    read_type,
    severity_choices,
    source_choices,
    type_choices,
)
from app.ledger.reader import CellError, read_ledger
from app.units.models import Unit

MAX_ROWS = 50_000
MAX_ERRORS = 1000
SESSION_BATCH = 500
FORMULA_ESCAPED = ("'=", "'+", "'-", "'@")
_DATE_TEXT = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?")
_TEXT_FIELDS = ("title", "description", "category", "campaign", "external_ref")


@dataclass
class PlannedRow:
    row: int
    create: ItemCreate
    unit_code: str | None
    due_date: date | None


class _Units:
    """Every unit, loaded once: a cell names a unit by code or by exact name."""

    def __init__(self, session: Session) -> None:
        self.codes: set[str] = set()
        self.by_name: dict[str, list[str]] = {}
        for code, name in session.execute(select(Unit.code, Unit.name)):
            self.codes.add(code)
            self.by_name.setdefault(name, []).append(code)

    def resolve(self, text: str) -> tuple[str | None, str | None]:
        """(unit code, None) or (None, why not)."""
        if text in self.codes:
            return text, None
        codes = self.by_name.get(text, [])
        if len(codes) == 1:
            return codes[0], None
        if codes:
            return None, f"several units are named {text!r} ({', '.join(codes)}); use the code"
        return None, f"no unit has the code or the exact name {text!r}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date | datetime):
        value = value.isoformat()
    text = str(value).strip()
    if text.startswith(FORMULA_ESCAPED):
        text = text[1:]
    return text or None


def _due_date(value: Any, today: date) -> tuple[date | None, str | None]:
    if isinstance(value, datetime):
        due = value.date()
    elif isinstance(value, date):
        due = value
    else:
        text = _text(value) or ""
        match = _DATE_TEXT.fullmatch(text)
        try:
            due = date(*(int(g) for g in match.groups())) if match else None
        except ValueError:
            due = None
        if due is None:
            return None, f"{text!r} is not a date; use a date cell or YYYY-MM-DD"
    if due < today:
        return None, f"{due} is in the past (today is {today})"
    return due, None


class _RowCheck:
    def __init__(self, number: int) -> None:
        self.number = number
        self.errors: list[dict] = []

    def fail(self, key: str, message: str) -> None:
        self.errors.append(
            {"row": self.number, "field": key, "message": f"{ZH_OF[key]}: {message}"}
        )


def _plan_row(
    number: int, record: dict, units: _Units, today: date
) -> tuple[PlannedRow | None, list]:
    check = _RowCheck(number)
    for key, value in record.items():
        if isinstance(value, CellError):
            check.fail(key, value.message)
    if check.errors:
        return None, check.errors
    fields: dict[str, Any] = {k: _text(record.get(k)) for k in _TEXT_FIELDS}
    fields["description"] = fields["description"] or ""
    if not fields["title"]:
        check.fail("title", "required")
    source_text = _text(record.get("source"))
    if source_text is None:
        check.fail("source", f"required; one of {source_choices()}")
    else:
        fields["source"] = read_source(source_text)
        if fields["source"] is None:
            check.fail("source", f"{source_text!r} is not one of {source_choices()}")
    severity_text = _text(record.get("severity"))
    if severity_text is not None:
        fields["severity"] = read_severity(severity_text)
        if fields["severity"] is None:
            check.fail("severity", f"{severity_text!r} is not one of {severity_choices()}")
    type_text = _text(record.get("type"))
    if type_text is not None:
        fields["type"] = read_type(type_text)
        if fields["type"] is None:
            check.fail("type", f"{type_text!r} is not one of {type_choices()}")
    unit_code = due = None
    unit_text = _text(record.get("unit"))
    if unit_text is not None:
        unit_code, why = units.resolve(unit_text)
        if why:
            check.fail("unit", why)
    if not _blank(record.get("due_date")):
        due, why = _due_date(record["due_date"], today)
        if why:
            check.fail("due_date", why)
    if unit_text is not None and _blank(record.get("due_date")):
        check.fail("due_date", "required when 责任单位 is given (leave both blank for 已发现)")
    if unit_text is None and not _blank(record.get("due_date")):
        check.fail("unit", "required when 整改时限 is given (leave both blank for 已发现)")
    if check.errors:
        return None, check.errors
    try:
        create = ItemCreate(**fields)
    except ValidationError as exc:
        for err in exc.errors():
            key = str(err["loc"][0]) if err.get("loc") else "title"
            check.fail(key if key in ZH_OF else "title", err["msg"])
        return None, check.errors
    return PlannedRow(number, create, unit_code, due), []


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def plan(session: Session, data: bytes, filename: str | None) -> tuple[list[PlannedRow], list]:
    """Read and check the whole file: (rows to create, every row's errors)."""
    ledger = read_ledger(data, filename, MAX_ROWS)
    if not ledger.rows:
        raise Invalid(
            f"The file has a header row (row {ledger.header_row}) but no data rows.",
            errors=[{"row": ledger.header_row, "field": "file", "message": "no data rows"}],
            created=0,
        )
    units = _Units(session)
    today = to_local_date(now(session))
    planned: list[PlannedRow] = []
    errors: list[dict] = []
    for number, record in ledger.rows:
        row, row_errors = _plan_row(number, record, units, today)
        if row is not None:
            planned.append(row)
        errors.extend(row_errors)
    return planned, errors


def import_ledger(
    session: Session, caller: Caller, data: bytes, filename: str | None, dry_run: bool = False
) -> dict:
    """All rows or none: 422 listing every row's errors, else the rows created."""
    planned, errors = plan(session, data, filename)
    if errors:
        rows = len({e["row"] for e in errors})
        raise Invalid(
            f"{rows} row(s) have errors; nothing was imported.",
            errors=errors[:MAX_ERRORS],
            created=0,
            error_count=len(errors),
            truncated=len(errors) > MAX_ERRORS,
        )
    assigned = sum(1 for p in planned if p.unit_code)
    if dry_run:
        return {
            "created": 0,
            "errors": [],
            "dry_run": True,
            "would_create": len(planned),
            "would_assign": assigned,
        }
    for index, row in enumerate(planned, start=1):
        _create(session, caller, row)
        if index % SESSION_BATCH == 0:
            session.flush()
            session.expunge_all()
    return {"created": len(planned), "errors": [], "assigned": assigned}


def _create(session: Session, caller: Caller, row: PlannedRow) -> None:
    try:
        item = new_item(session, caller, row.create)
        if row.unit_code:
            request = TransitionRequest(
                action="assign", unit_code=row.unit_code, due_date=row.due_date
            )
            transition(session, caller, item.id, request, None)
    except ProblemError as exc:
        raise Invalid(
            f"Row {row.row} could not be imported: {exc.detail} Nothing was imported.",
            errors=[{"row": row.row, "field": "row", "message": exc.detail}],
            created=0,
        ) from None
