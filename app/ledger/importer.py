"""Import a ledger: read and check every row first, then write all of them or none.

A row with 责任单位 and 整改时限 is created and assigned in the same request,
through the same workflow action as ``POST /items/{id}/transitions`` (history
shows ``create`` then ``assign``); any other row is created ``found``.
Rows sharing one 外部编号 are one item with several measures. An 外部编号 that
names an existing item is a row error, or with ``mode=upsert`` an update of
the item's descriptive fields, co-units and people, adds the measures it does
not have yet and changes the ones whose 措施类型, 措施时限 or 措施责任单位 the
file gives otherwise (measures are matched by their text; 责任单位 and 整改时限
must each be empty or equal to the item's). With ``mode=upsert`` a row also names
an item by its 编号, and an 外部编号 it gives an item without one becomes the item's
(``matching.matches``). New items are written in bulk
(``app.ledger.bulk``). Measures are checked against the rules of
``app.plans.service`` while planning, so a refusal is a row error.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.auth.service import Caller
from app.clock import now, to_local_date
from app.deadlines.store import load_calendar
from app.errors import Conflict, Invalid, ProblemError
from app.items.models import Item
from app.items.schemas import PERSON_FIELDS, ItemCreate, ItemUpdate
from app.items.service import get_item, order_type, update_item, workflow_for
from app.ledger import bulk, matching, measure_rows
from app.ledger.columns import SOURCE_LABELS, ZH_OF, source_choices, type_labels
from app.ledger.messages import validation_error
from app.ledger.reader import FileError, LedgerRows, file_error, read_ledger
from app.ledger.rows import Draft, RowCheck, RowContext, Units, inherit, read_row, row_identity
from app.plans.models import Measure
from app.plans.schemas import MeasureCreate, MeasureUpdate
from app.plans.service import change_measure, create_measure
from app.settings import get_settings
from app.workflow.registry import registry

MAX_ERRORS = 1000
_UPDATABLE = ("title", "description", "category", "severity", "campaign")
_NULLABLE_TEXT = ("category", "campaign")


class LedgerUpdate(ItemUpdate):
    """What an upsert row changes of an item: ``PATCH /items/{id}``'s fields, and the
    外部编号 of an item named by its 编号 that has none yet (``matching.matches``)."""

    external_ref: str | None = Field(default=None, max_length=200)


class Mode(StrEnum):
    create = "create"
    upsert = "upsert"


@dataclass
class Update:
    row: int
    item_id: int
    changes: dict[str, Any]
    new_measures: list[MeasureCreate] = field(default_factory=list)
    measure_changes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


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


def _creatable(check: RowCheck, create: ItemCreate) -> ItemCreate | None:
    """The item a row creates, in the workflow it belongs to, checked as ``POST /items``
    checks it (``new_item_columns``' order type), so a refusal is this row's error in
    the dry run and the import alike instead of a failed write.

    The ledger has no workflow column; a row's 工单类型 says which it is: a type the
    source's workflow does not have (a hotline order filed under 审计, exported from
    ``{"source": "audit", "workflow": "hotline"}``) puts the item in the one workflow
    that declares that type."""
    if create.type is not None and workflow_for(create).types is None:
        typed = [
            name
            for name in registry.names()
            if (types := registry.latest(name).types) and create.type in types.names()
        ]
        if len(typed) == 1:
            create = create.model_copy(update={"workflow": typed[0]})
    wf = workflow_for(create)
    try:
        order_type(wf, create)
    except ProblemError as exc:  # said in the row's language, not the service's English
        errors = exc.extensions.get("errors") or [{}]
        key = errors[0].get("field") or "type"
        if key == "type" and wf.types is None:
            check.fail("type", "no_types", value=create.type, workflow=wf.name)
        elif key == "type" and wf.types is not None:
            labels = type_labels()
            choices = "、".join(labels.get(t, t) for t in wf.types.names())
            check.fail("type", "not_type", value=create.type, choices=choices)
        else:
            check.fail(key if key in ZH_OF else "type", "not_importable", why=exc.detail)
        return None
    return create


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
    if draft.co_unit_codes is not None:
        wanted["co_unit_codes"] = draft.co_unit_codes
    wanted.update(draft.people)
    if draft.external_ref is not None:  # named by 编号: its first ref (``matching.matches``)
        wanted["external_ref"] = draft.external_ref
    current = {k: getattr(item, k) for k in wanted}
    if "co_unit_codes" in current:
        current["co_unit_codes"] = list(current["co_unit_codes"] or [])
    return {k: v for k, v in wanted.items() if current[k] != v}


def _reconcile(
    draft: Draft,
    item: Item,
    measures: dict[str, Measure],
    units: Units,
    rules: measure_rows.Rules,
    lang: str,
) -> tuple[Update | None, list]:
    """An upsert row against the item its 外部编号 names: (update or None, errors)."""
    check = RowCheck(draft.row, lang)

    def differs(key: str, current: Any, code: str = "differs", en: Any = None) -> None:
        # the item's value as each language says it (a label in Chinese, the code in English)
        check.fail(
            key, code, number=item.number, column=ZH_OF[key], column_en=key,
            current="空" if current is None else current,
            current_en="none" if current is None else (en or current),
        )  # fmt: skip

    # A row that does not assign (``Draft.assigns``) created its item without them:
    # against an item with neither, the same row is no change, so it imports again.
    as_created = not draft.assigns and item.unit_code is None and item.due_date is None
    if draft.unit_code is not None and draft.unit_code != item.unit_code and not as_created:
        differs("unit", units.names.get(item.unit_code or "", item.unit_code), en=item.unit_code)
    if draft.due_date is not None and draft.due_date != item.due_date and not as_created:
        differs("due_date", item.due_date)
    if draft.source_given and draft.fields.get("source") != item.source:
        differs(
            "source", SOURCE_LABELS.get(item.source, item.source), "source_differs", item.source
        )
    changes = _changes(draft, item)
    if item.unit_code and item.unit_code in changes.get("co_unit_codes", []):
        check.fail("co_units", "co_unit_is_lead", value=item.unit_code)
    if changes and not check.errors:
        try:
            LedgerUpdate(**changes)
        except ValidationError as exc:
            for err in exc.errors():
                key = str(err["loc"][0])
                code, params = validation_error(err)
                check.fail("co_units" if key == "co_unit_codes" else key, code, **params)
    fresh = [m for m in draft.measures if m.title not in measures]
    as_updated = measure_rows.stand_in(
        item, co_unit_codes=changes.get("co_unit_codes", item.co_unit_codes)
    )
    new_measures = measure_rows.checked_measures(check, fresh, as_updated, rules)
    measure_changes = measure_rows.measure_changes(check, draft, measures, rules.today)
    if check.errors:
        return None, check.errors
    if not (changes or new_measures or measure_changes):
        return None, []
    return Update(draft.row, item.id, changes, new_measures, measure_changes), []


def _read_rows(ledger: LedgerRows, ctx: RowContext) -> Iterator[tuple[Draft | None, list]]:
    """Each row's ``Draft`` or errors; a later row of an item (the same ``row_identity``)
    read with the empty item cells of its first row (``rows.inherit``). An error of a
    cell it took is the first row's, and said there once: the later row leaves it out
    (its draft is still None, but the first row's error keeps the import from writing)."""
    firsts: dict[tuple[str, str], tuple[dict, set[tuple[str, str]]]] = {}
    for number, record in ledger.rows:
        name = row_identity(record, ctx.upsert)
        first = firsts.get(name) if name is not None else None
        if first is None:
            draft, errors = read_row(number, record, ctx)
            if name is not None:
                firsts[name] = (record, {(e["field"], e["message"]) for e in errors})
        else:
            filled, taken = inherit(record, first[0])
            draft, errors = read_row(number, filled, ctx)
            said = first[1]
            errors = [
                e
                for e in errors
                if not (e["field"] in taken and (e["field"], e["message"]) in said)
            ]
        if draft is not None:
            draft.identity = name
        yield draft, errors


def plan(session: Session, ledger: LedgerRows, options: Options) -> Plan:
    """Check every row against the units and the items: what to create and update."""
    columns = frozenset(ledger.columns)
    upsert = options.mode == Mode.upsert
    # (An upsert's rows may all update: a row that creates without a 来源 is its error.)
    if "source" not in columns and options.default_source is None and not upsert:
        raise file_error(
            f"The header row (row {ledger.header_row}) has no column 来源 (source); add one, "
            "or give the source of every row with ?source=.",
            f"表头（第 {ledger.header_row} 行）没有“来源”列，请添加该列，或用 ?source= "
            "指定所有行的来源。",
        ).in_language(options.lang)
    units = Units(session)
    ctx = RowContext(units, columns, options.lang, options.default_source, upsert)
    today = to_local_date(now(session))
    result = Plan()
    drafts = []
    for draft, errors in _read_rows(ledger, ctx):
        result.errors += errors
        if draft is not None:
            drafts.append(draft)
    drafts, errors = matching.grouped(drafts, lambda d: d.identity, options.lang, numbers=True)
    result.errors += errors
    existing, errors = matching.matches(session, drafts, upsert, options.lang)
    result.errors += errors
    refused = {e["row"] for e in errors}  # naming two items: neither updated nor created
    drafts = [d for d in drafts if d.row not in refused]
    measures = {}
    if upsert:
        # one update an item, if rows name it both by its 外部编号 and by its 编号
        drafts, errors = matching.grouped(
            drafts, lambda d: existing[d.row].id if d.row in existing else None, options.lang
        )
        result.errors += errors
        ids = list(dict.fromkeys(i.id for i in existing.values()))
        measures = measure_rows.existing_measures(session, ids)
    rules = measure_rows.Rules(today, now(session), load_calendar(session))
    for draft in drafts:
        item = existing.get(draft.row)
        if item is not None and upsert:
            known = measures.get(item.id, {})
            update, errors = _reconcile(draft, item, known, units, rules, options.lang)
            result.errors += errors
            if update is not None:
                result.updates.append(update)
            elif not errors:
                result.unchanged += 1
            continue
        check = RowCheck(draft.row, options.lang)
        if item is not None:
            check.fail("external_ref", "ref_taken", value=draft.external_ref, number=item.number)
        if draft.create is None:  # an upsert's row without 来源 that names no item
            check.fail("source", "required_source", choices=source_choices())
            result.errors += check.errors
            continue
        measure_rows.check_due(check, draft.due_date, today)
        create = _creatable(check, draft.create)
        if draft.measures and draft.unit_code and not draft.assigns:
            # the measures' unit would be the lead, and an item is given one when assigned
            check.fail("due_date", "measures_need_assignment")
        new = None if check.errors or create is None else _new_item(draft, create)
        if new is not None and draft.measures:
            wf = workflow_for(new.create)
            as_created = measure_rows.stand_in(
                new,
                id=None,
                state=wf.initial,
                workflow_name=wf.name,
                workflow_version=wf.version,
            )
            new.measures = measure_rows.checked_measures(check, draft.measures, as_created, rules)
        result.errors += check.errors
        if not check.errors:
            assert new is not None  # made above whenever the row had no error
            result.creates.append(new)
    return result


def _new_item(draft: Draft, create: ItemCreate) -> bulk.NewItem:
    """The item a row creates: assigned when it gives both 责任单位 and 整改时限,
    else ``found`` without the one it gives (``Draft.assigns``)."""
    return bulk.NewItem(
        row=draft.row,
        create=create,
        unit_code=draft.unit_code if draft.assigns else None,
        due_date=draft.due_date if draft.assigns else None,
        co_unit_codes=draft.co_unit_codes or [],
        people={k: v for k, v in draft.people.items() if k in PERSON_FIELDS},
    )


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_state = {"enabled": True}


@contextmanager
def few_collections() -> Iterator[None]:
    """The cyclic garbage collector paused while an import runs (reference counting
    still frees everything else at once).

    An import allocates a few million short-lived objects; each 700 of them
    start a collection, and the older generations' collections walk the whole
    heap -- about a sixth of the import's CPU time (cProfile, 10,000 rows). The
    collector is on again when the last import running in the process ends.
    """
    global _gc_holders
    with _gc_lock:
        _gc_holders += 1
        if _gc_holders == 1:
            was_enabled = gc.isenabled()
            gc.disable()
            _gc_state["enabled"] = was_enabled
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_state["enabled"]:
                gc.enable()


def parse(data: bytes, filename: str | None, lang: str = "zh") -> LedgerRows:
    """Read the file within the limits (rows, an xlsx's unpacked size); no database.
    A file that is no usable ledger is 422 in ``lang``, as its row errors are."""
    settings = get_settings()
    try:
        ledger = read_ledger(
            data, filename, settings.max_import_rows, settings.max_import_inflated_bytes
        )
        if not ledger.rows:
            row = ledger.header_row
            raise FileError(
                f"The file has a header row (row {row}) but no data rows.",
                f"表头（第 {row} 行）之后没有数据行。",
                errors=[{"row": row, "field": "file", "message": ("no data rows", "没有数据行")}],
            )
    except FileError as err:
        raise err.in_language(lang) from None
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
    """Create and update what ``check`` planned, all of it or (on any refusal) none.

    An update's edit goes through ``update_item``, whose writer writes the item's row
    itself and detaches the item (``app.items.writer``, ``write="update"``: code that
    goes on changing an item re-reads it). The measures then change the item through
    the session (``write="flush"``), so they are given the item read again, with the
    edit's chain head: changed on the detached copy, their history entries were
    appended but the row's head, version and counts never written -- the chain no
    longer ended at the head the row carries."""
    bulk.create_items(session, caller, planned.creates)
    for update in planned.updates:
        if update.changes:
            try:
                update_item(session, caller, update.item_id, LedgerUpdate(**update.changes), None)
            except IntegrityError:  # an 外部编号 given to another item since ``check``
                raise Conflict(
                    "Another request used one of the file's 外部编号 (external_ref) while it "
                    "was being checked; nothing was imported. Import the file again."
                ) from None
        if not (update.new_measures or update.measure_changes):
            continue
        item = get_item(session, caller, update.item_id, lock=True)
        for data in update.new_measures:
            create_measure(session, item, caller, data)
        for measure_id, diff in update.measure_changes:
            measure = session.get(Measure, measure_id)
            assert measure is not None  # read from this item's measures by the check
            change_measure(session, item, measure, MeasureUpdate(**diff), caller)
    assigned = sum(1 for p in planned.creates if p.unit_code)
    return {**_counts(planned, options), "errors": [], "assigned": assigned}
