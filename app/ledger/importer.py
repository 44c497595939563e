"""Import a ledger: read and check every row first, then write all of them or none.

A row with 责任单位 and 整改时限 is created and assigned in the same request,
through the same workflow action as ``POST /items/{id}/transitions`` (history
shows ``create`` then ``assign``); a row with neither is created ``found``.
Rows sharing one 外部编号 are one item with several measures. An 外部编号 that
names an existing item is a row error, or with ``mode=upsert`` an update of
the item's descriptive fields (责任单位 and 整改时限 must then be empty or
equal to the item's). New items are written in bulk (``app.ledger.bulk``).
"""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from app.auth.service import Caller
from app.clock import now, to_local_date
from app.deadlines.schedule import MAX_DUE_DAYS
from app.errors import Invalid
from app.items.models import Item
from app.items.schemas import ItemCreate, ItemUpdate
from app.items.service import update_item
from app.ledger import bulk
from app.ledger.reader import LedgerRows, file_error, read_ledger
from app.ledger.rows import Draft, RowCheck, RowContext, Units, read_row
from app.settings import get_settings

MAX_ERRORS = 1000
LOOKUP_CHUNK = 500
_UPDATABLE = ("title", "description", "category", "severity", "campaign")
_NULLABLE_TEXT = ("category", "campaign")


class Mode(StrEnum):
    create = "create"
    upsert = "upsert"


@dataclass
class Update:
    row: int
    item_id: int
    changes: dict[str, Any]


@dataclass
class Plan:
    creates: list[bulk.NewItem] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    mode: Mode = Mode.create
    lang: str = "zh"
    default_source: str | None = None
    dry_run: bool = False


def _grouped(drafts: list[Draft]) -> list[Draft]:
    """Rows sharing an 外部编号 are one item: the first row, with every row's measures."""
    first: dict[str, Draft] = {}
    result = []
    for draft in drafts:
        ref = draft.external_ref
        if ref is None or ref not in first:
            result.append(draft)
            if ref is not None:
                first[ref] = draft
            continue
        known = {m.title for m in first[ref].measures}
        first[ref].measures += [m for m in draft.measures if m.title not in known]
    return result


def _existing(session: Session, refs: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(refs), LOOKUP_CHUNK):
        chunk = refs[start : start + LOOKUP_CHUNK]
        for item in session.scalars(select(Item).where(col(Item.external_ref).in_(chunk))):
            found[cast(str, item.external_ref)] = item  # selected by it: never None
    return found


def _check_due(check: RowCheck, due: date | None, today: date) -> None:
    if due is None:
        return
    if due < today:
        check.fail("due_date", "past", value=due, today=today)
    elif (due - today).days > MAX_DUE_DAYS:
        check.fail("due_date", "too_far", value=due)


def _changes(draft: Draft, item: Item) -> dict[str, Any]:
    """The descriptive fields the row sets to something else than the item has."""
    columns = draft.columns
    wanted: dict[str, Any] = {}
    for key in _UPDATABLE:
        if key not in columns or (key == "severity" and "severity" not in draft.fields):
            continue
        value = draft.fields.get(key)
        if key in _NULLABLE_TEXT:
            value = value or None
        wanted[key] = value if key != "description" else (value or "")
    if "title" not in columns:
        wanted.pop("title", None)
    return {k: v for k, v in wanted.items() if getattr(item, k) != v}


def _reconcile(draft: Draft, item: Item, units: Units, lang: str) -> tuple[Update | None, list]:
    """An upsert row against the item its 外部编号 names: (update or None, errors)."""
    check = RowCheck(draft.row, lang)
    current_unit = units.names.get(item.unit_code or "", item.unit_code) or "空"
    if draft.unit_code is not None and draft.unit_code != item.unit_code:
        check.fail("unit", "differs", number=item.number, column="责任单位", current=current_unit)
    if draft.due_date is not None and draft.due_date != item.due_date:
        check.fail(
            "due_date",
            "differs",
            number=item.number,
            column="整改时限",
            current=item.due_date or "空",
        )
    if draft.source_given and draft.fields.get("source") != item.source:
        check.fail("source", "differs", number=item.number, column="来源", current=item.source)
    changes = _changes(draft, item)
    if changes and not check.errors:
        try:
            ItemUpdate(**changes)
        except ValidationError as exc:
            for err in exc.errors():
                check.fail(str(err["loc"][0]), "invalid", why=err["msg"])
    if check.errors:
        return None, check.errors
    return (Update(draft.row, item.id, changes) if changes else None), []


def plan(session: Session, ledger: LedgerRows, options: Options) -> Plan:
    """Check every row against the units and the items: what to create and update."""
    columns = frozenset(ledger.columns)
    if "source" not in columns and options.default_source is None:
        raise file_error(
            f"The header row (row {ledger.header_row}) has no column 来源 (source); add one, "
            "or give the source of every row with ?source=."
        )
    units = Units(session)
    ctx = RowContext(units, columns, options.lang, options.default_source)
    today = to_local_date(now(session))
    result = Plan()
    drafts = []
    for number, record in ledger.rows:
        draft, errors = read_row(number, record, ctx)
        result.errors += errors
        if draft is not None:
            drafts.append(draft)
    drafts = _grouped(drafts)
    existing = _existing(session, [d.external_ref for d in drafts if d.external_ref])
    for draft in drafts:
        item = existing.get(draft.external_ref or "")
        if item is not None and options.mode == Mode.upsert:
            update, errors = _reconcile(draft, item, units, options.lang)
            result.errors += errors
            if update is not None:
                result.updates.append(update)
            elif not errors:
                result.unchanged += 1
            continue
        check = RowCheck(draft.row, options.lang)
        if item is not None:
            check.fail("external_ref", "ref_taken", value=draft.external_ref, number=item.number)
        _check_due(check, draft.due_date, today)
        result.errors += check.errors
        if not check.errors:
            result.creates.append(_new_item(draft))
    return result


def _new_item(draft: Draft) -> bulk.NewItem:
    return bulk.NewItem(
        row=draft.row,
        create=ItemCreate(**draft.fields),
        unit_code=draft.unit_code,
        due_date=draft.due_date,
    )


def parse(data: bytes, filename: str | None) -> LedgerRows:
    """Read the file within the limits (rows, an xlsx's unpacked size); no database."""
    settings = get_settings()
    ledger = read_ledger(
        data, filename, settings.max_import_rows, max_inflated=settings.max_import_inflated_bytes
    )
    if not ledger.rows:
        raise Invalid(
            f"The file has a header row (row {ledger.header_row}) but no data rows.",
            errors=[{"row": ledger.header_row, "field": "file", "message": "no data rows"}],
            created=0,
        )
    return ledger


def check(session: Session, ledger: LedgerRows, options: Options) -> Plan:
    """Plan every row; 422 listing every row's errors. Only reads ``session``, so the
    caller runs it before the write transaction opens."""
    planned = plan(session, ledger, options)
    if planned.errors:
        errors = sorted(planned.errors, key=lambda e: e["row"] or 0)
        rows = len({e["row"] for e in errors})
        raise Invalid(
            f"{rows} row(s) have errors; nothing was imported."
            if options.lang == "en"
            else f"{rows} 行有错误，未导入任何数据。",
            errors=errors[:MAX_ERRORS],
            created=0,
            error_count=len(errors),
            truncated=len(errors) > MAX_ERRORS,
        )
    return planned


def _counts(planned: Plan, options: Options) -> dict:
    counts = {"created": len(planned.creates)}
    if options.mode == Mode.upsert:
        counts |= {"updated": len(planned.updates), "unchanged": planned.unchanged}
    return counts


def dry_run_answer(planned: Plan, options: Options) -> dict:
    counts = _counts(planned, options)
    would = {f"would_{k.removesuffix('d')}": v for k, v in counts.items() if k != "unchanged"}
    return {
        **dict.fromkeys(counts, 0),
        "errors": [],
        "dry_run": True,
        **would,
        "would_assign": sum(1 for p in planned.creates if p.unit_code),
        **({"unchanged": planned.unchanged} if options.mode == Mode.upsert else {}),
    }


def write(session: Session, caller: Caller, planned: Plan, options: Options) -> dict:
    """Create and update what ``check`` planned, all of it or (on any refusal) none."""
    bulk.create_items(session, caller, planned.creates)
    for update in planned.updates:
        update_item(session, caller, update.item_id, ItemUpdate(**update.changes), None)
    assigned = sum(1 for p in planned.creates if p.unit_code)
    return {**_counts(planned, options), "errors": [], "assigned": assigned}
