"""One ledger row -> what it asks for (a ``Draft``), or its errors in the user's language.

Nothing here writes: units are resolved against one read of the unit table
(codes, exact names, aliases), dates and phrases are parsed, measure lines are
split; whether the row creates or updates an item is decided by the importer.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from app.guard import control_fields
from app.items.refs import canonical_ref
from app.items.schemas import ItemCreate
from app.ledger import cells
from app.ledger.columns import (
    ZH_OF,
    read_severity,
    read_source,
    read_type,
    severity_choices,
    source_choices,
    type_choices,
)
from app.ledger.messages import message, validation_error
from app.ledger.reader import CellError
from app.units.models import Unit, UnitAlias

TITLE_FROM_DESCRIPTION = 40
PERSON_MAX = 100
_TEXT_FIELDS = ("title", "description", "category", "campaign", "external_ref")
_PEOPLE = ("responsible_person", "responsible_leader")
ITEM_KEYS = (
    *("title", "description", "source", "category", "severity", "unit", "due_date"),
    *("campaign", "co_units", *_PEOPLE, "type"),
)
"""The cells that say something of the item, not of one measure (nor name the item):
a later row of the same item may leave them empty (``inherit``)."""


class Units:
    """Every unit and alias, read once: a cell names a unit by code, exact name or alias."""

    def __init__(self, session: Session) -> None:
        self.codes: set[str] = set()
        self.by_name: dict[str, list[str]] = {}
        self.names: dict[str, str] = {}
        for code, name in session.execute(select(col(Unit.code), col(Unit.name))):
            self.codes.add(code)
            self.names[code] = name
            self.by_name.setdefault(name, []).append(code)
        self.by_alias = dict(
            session.execute(select(col(UnitAlias.alias), col(UnitAlias.unit_code))).all()
        )

    def resolve(self, text: str) -> tuple[str | None, tuple[str, dict] | None]:
        """(unit code, None) or (None, (message code, its parameters))."""
        if text in self.codes:
            return text, None
        codes = self.by_name.get(text, [])
        if len(codes) == 1:
            return codes[0], None
        if codes:
            return None, ("ambiguous_unit", {"value": text, "codes": ", ".join(codes)})
        if text in self.by_alias:
            return self.by_alias[text], None
        return None, ("no_unit", {"value": text})


@dataclass
class Measure:
    """One measure a row names. ``kind_given``/``due_given``/``unit_given``: whether the
    file said so (措施类型 or a phrase, 措施时限, 措施责任单位) rather than leaving it to
    the defaults; an upsert compares an existing measure on what was said only."""

    title: str
    kind: str
    due_date: date | None = None
    unit_code: str | None = None
    kind_given: bool = False
    due_given: bool = False
    unit_given: bool = False
    row: int | None = None


@dataclass
class Draft:
    """What one row asks for. ``columns``: the keys the file has (an upsert changes
    only those); ``due_date`` is checked against today only when the row creates."""

    row: int
    fields: dict[str, Any]
    columns: frozenset[str]
    unit_code: str | None = None
    due_date: date | None = None
    co_unit_codes: list[str] | None = None
    people: dict[str, str | None] = field(default_factory=dict)
    measures: list[Measure] = field(default_factory=list)
    source_given: bool = False
    item_number: str | None = None
    """编号 (``mode=upsert`` only): the item the row names (an export's own rows), with
    or without an 外部编号 (``matching.matches``)."""
    identity: tuple[str, str] | None = None
    """What names the row's item (``row_identity``): rows of one identity are one item."""
    assigns: bool = False
    """Both 责任单位 and 整改时限 given (a date or a phrase such as 长期坚持): a new item
    is assigned. With only one of them it is created ``found`` without it -- a found
    item has no unit and no due date (``POST /items`` takes neither; only ``assign``
    sets them, and ``return`` to found clears the unit) -- but the cell is still
    checked, and an upsert compares it with the item's (unless the item has neither:
    the row left it so)."""
    create: ItemCreate | None = None
    """The validated item, once the row has no errors."""

    @property
    def external_ref(self) -> str | None:
        return self.fields.get("external_ref")


def differences(first: Draft, later: Draft) -> list[tuple[str, Any, Any]]:
    """(column, later's value, first's) where ``later``, a row of the same item as
    ``first``, gives the item a value ``first`` does not: a cell it leaves empty agrees."""
    derived = {"source"} | ({"title"} if "title" not in later.columns else set())  # 问题's
    pairs = [(k, v, first.fields.get(k)) for k, v in later.fields.items() if k not in derived]
    if later.source_given:
        pairs.append(("source", later.fields.get("source"), first.fields.get("source")))
    pairs += [
        ("unit", later.unit_code, first.unit_code),
        ("due_date", later.due_date, first.due_date),
        ("co_units", later.co_unit_codes or None, first.co_unit_codes or None),
        *((k, v, first.people.get(k)) for k, v in later.people.items()),
    ]
    return [(k, v, was) for k, v, was in pairs if v not in (None, "") and v != was]


def row_identity(record: dict, by_number: bool) -> tuple[str, str] | None:
    """What names a row's item, from its cells: its 外部编号, else (upsert only) its 编号
    (``Draft.identity``)."""
    for key in ("external_ref", "number") if by_number else ("external_ref",):
        value = record.get(key)
        if isinstance(value, CellError):
            return None
        text = canonical_ref(cells.text(value)) if key == "external_ref" else cells.text(value)
        if text is not None:
            return (key, text)
    return None


def inherit(record: dict, first: dict) -> tuple[dict, frozenset[str]]:
    """A later row of an item (``row_identity``) with the cells it leaves empty taken from
    the item's first row: "an empty cell agrees" (README), a merged cell's lower rows
    included (a workbook keeps a merged cell's value in its first row only). So the
    item's required cells (标题, 来源) are required of its first row, and a later row's
    measures take the item's 整改时限 as the first row's do. Also the keys it took."""
    taken = frozenset(
        k for k in ITEM_KEYS if k in first and cells.blank(record.get(k)) and k in record
    )
    return {**record, **{k: first[k] for k in taken}}, taken


class RowCheck:
    """Collects one row's errors as ``{"row","field","message"}``."""

    def __init__(self, number: int, lang: str) -> None:
        self.number, self.lang = number, lang
        self.errors: list[dict] = []

    def fail(self, key: str, code: str, at_row: int | None = None, **params: Any) -> None:
        """One error of this row (or of ``at_row``, another row of the same item)."""
        text = message(code, self.lang, key, **params)
        self.errors.append({"row": at_row or self.number, "field": key, "message": text})


@dataclass(frozen=True)
class RowContext:
    units: Units
    columns: frozenset[str]
    lang: str = "zh"
    default_source: str | None = None
    upsert: bool = False
    """A row may then leave 来源 empty: it can only update (``importer.plan`` says so
    of one that would create)."""


def _unit(check: RowCheck, ctx: RowContext, key: str, text: str) -> str | None:
    code, why = ctx.units.resolve(text)
    if why:
        check.fail(key, why[0], **why[1])
    return code


def _deadline(check: RowCheck, key: str, value: Any) -> cells.Deadline | None:
    if cells.blank(value):
        return None
    parsed = cells.deadline(value)
    if parsed is None:
        check.fail(key, "not_date", value=cells.text(value))
    return parsed


def _measures(
    check: RowCheck, ctx: RowContext, record: dict, item_due: cells.Deadline | None
) -> list[Measure]:
    lines = cells.measure_lines(record.get("measures"))
    if not lines:
        return []
    kind = None
    if not cells.blank(record.get("measure_kind")):
        kind = cells.kind(record["measure_kind"])
        if kind is None:
            check.fail(
                "measure_kind",
                "not_kind",
                value=cells.text(record["measure_kind"]),
                choices=cells.kind_choices(),
            )
    own_due = _deadline(check, "measure_due", record.get("measure_due"))
    due = (own_due.due if own_due else None) or (item_due.due if item_due else None)
    kind = kind or (own_due.kind if own_due else None) or (item_due.kind if item_due else None)
    kind_given = bool(kind)
    kind = kind or ("deadline" if due else "immediate")
    unit_text = cells.text(record.get("measure_unit"))
    unit = _unit(check, ctx, "measure_unit", unit_text) if unit_text else None
    if kind == "long_term" and own_due is not None and own_due.due is not None:
        # as ``POST .../measures`` refuses one: the date would be dropped unseen
        check.fail("measure_due", "long_term_no_due", value=own_due.due)
    due = None if kind == "long_term" else due
    given = {"kind_given": kind_given, "due_given": own_due is not None, "unit_given": bool(unit)}
    return [Measure(line, kind, due, unit, **given, row=check.number) for line in lines]


def read_row(number: int, record: dict, ctx: RowContext) -> tuple[Draft | None, list[dict]]:
    """The row's ``Draft``, or (None, its errors). A text cell holding NUL or another
    control character (tab, newline and carriage return excepted) is an error of its
    column, by the rule the JSON endpoints apply (``app.guard.control_fields``):
    PostgreSQL cannot store NUL, and no column wants the others."""
    check = RowCheck(number, ctx.lang)
    for key, value in record.items():
        if isinstance(value, CellError):
            check.fail(key, "cell", why=value.message, why_zh=value.zh or value.message)
    for key in control_fields(record):
        check.fail(key, "control")
    if check.errors:
        return None, check.errors
    fields: dict[str, Any] = {k: cells.text(record.get(k)) for k in _TEXT_FIELDS}
    fields["external_ref"] = canonical_ref(fields["external_ref"])
    fields["description"] = fields["description"] or ""
    if not fields["title"] and fields["description"]:
        fields["title"] = fields["description"].splitlines()[0][:TITLE_FROM_DESCRIPTION].strip()
    if not fields["title"]:
        check.fail("title", "required")
    source_text = cells.text(record.get("source")) or ctx.default_source
    if source_text is None:
        if not ctx.upsert:
            check.fail("source", "required_source", choices=source_choices())
    else:
        fields["source"] = read_source(source_text)
        if fields["source"] is None:
            check.fail("source", "not_source", value=source_text, choices=source_choices())
    severity_text = cells.text(record.get("severity"))
    if severity_text is not None:
        fields["severity"] = read_severity(severity_text)
        if fields["severity"] is None:
            check.fail("severity", "not_severity", value=severity_text, choices=severity_choices())
    type_text = cells.text(record.get("type"))
    if type_text is not None:
        fields["type"] = read_type(type_text)
        if fields["type"] is None:
            check.fail("type", "not_type", value=type_text, choices=type_choices())
    draft = Draft(number, fields, ctx.columns, source_given=bool(cells.text(record.get("source"))))
    # (without mode=upsert 编号 is ignored: API.md, the import reads 标题 through 外部编号)
    draft.item_number = cells.text(record.get("number")) if ctx.upsert else None
    unit_text = cells.text(record.get("unit"))
    if unit_text is not None:
        draft.unit_code = _unit(check, ctx, "unit", unit_text)
    due = _deadline(check, "due_date", record.get("due_date"))
    draft.due_date = due.due if due else None
    draft.assigns = unit_text is not None and due is not None
    if "co_units" in ctx.columns:
        draft.co_unit_codes = [
            code
            for name in cells.names(record.get("co_units"))
            if (code := _unit(check, ctx, "co_units", name)) is not None
        ]
        if draft.unit_code and draft.unit_code in draft.co_unit_codes:
            check.fail("co_units", "co_unit_is_lead", value=draft.unit_code)
    draft.people = {k: cells.text(record.get(k)) for k in _PEOPLE if k in ctx.columns}
    for key, person in draft.people.items():
        if person is not None and len(person) > PERSON_MAX:
            check.fail(key, "too_long", limit=PERSON_MAX)
    draft.measures = _measures(check, ctx, record, due)
    if check.errors:
        return None, check.errors
    if "source" not in fields:  # an upsert's row without 来源: no item to create
        return draft, []
    try:
        draft.create = ItemCreate(**fields)
    except ValidationError as exc:
        for err in exc.errors():
            key = str(err["loc"][0]) if err.get("loc") else "title"
            code, params = validation_error(err)
            check.fail(key if key in ZH_OF else "title", code, **params)
        return None, check.errors
    return draft, []
