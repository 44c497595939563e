"""Which rows of a ledger are one item, and which existing item each row names.

Rows of one 外部编号 (with ``mode=upsert``, of one 编号) are one item (``grouped``);
a row names an existing item by its 外部编号 or, with ``mode=upsert``, its 编号
(``matches``), looked up in chunks (``existing``).
"""

from collections.abc import Callable, Hashable
from typing import cast

from sqlalchemy import select
from sqlmodel import Session, col

from app.items.models import Item
from app.ledger.rows import Draft, RowCheck, differences

LOOKUP_CHUNK = 500


def grouped(
    drafts: list[Draft], key: Callable[[Draft], Hashable | None], lang: str, numbers: bool = False
) -> tuple[list[Draft], list[dict]]:
    """Rows of one ``key`` are one item: the first row, with every row's measures (an
    export's ``rows=measures`` repeats an item on each measure's row); and the errors
    of later rows that give the item another value than the first (lost otherwise).
    ``numbers``: a later row's 编号 is one of those values (rows of one 外部编号 naming
    two items by 编号; not when the rows were grouped by the item they name)."""
    first: dict[Hashable, Draft] = {}
    result, errors = [], []
    for draft in drafts:
        name = key(draft)
        if name is None or name not in first:
            result.append(draft)
            if name is not None:
                first[name] = draft
            continue
        head = first[name]
        check = RowCheck(draft.row, lang)
        for column, _value, _was in differences(head, draft):
            check.fail(column, "same_item_differs", row=head.row)
        if numbers and draft.item_number not in (None, head.item_number):
            check.fail("number", "same_item_differs", row=head.row)
        errors += check.errors
        known = {m.title for m in head.measures}
        head.measures += [m for m in draft.measures if m.title not in known]
    return result, errors


def existing(session: Session, column, values: list[str]) -> dict[str, Item]:
    """The items whose ``column`` (外部编号 or 编号) is one of ``values``, by it."""
    found: dict[str, Item] = {}
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        for item in session.scalars(select(Item).where(col(column).in_(chunk))):
            found[cast(str, getattr(item, column.key))] = item  # selected by it: never None
    return found


def matches(
    session: Session, drafts: list[Draft], by_number: bool, lang: str
) -> tuple[dict[int, Item], list[dict]]:
    """The existing item each row names, by row, and the errors of rows that name two:
    by 外部编号, as API.md says; with ``mode=upsert`` also by 编号, the item's number --
    the column an export writes first, so that "the export still imports back
    unchanged with ``mode=upsert`` (0 created)" holds for items without an 外部编号
    too, and an 外部编号 filled in on an exported row is that item's new ref (an
    update: ``importer._changes``), not a second item. A row whose 编号 names one item and
    外部编号 another, or whose item has another ref already, is an error: refs are
    unique and an upsert does not replace one. A 编号 that names no item is passed
    over (the row is matched by its 外部编号 or creates), and without ``mode=upsert``
    编号 is ignored (API.md: the import reads 标题 through 外部编号), so a ledger
    exported from one database imports into another. (A 编号 names an item of this
    database: upsert a ledger into the database it was exported from.)"""
    refs = [d.external_ref for d in drafts if d.external_ref is not None]
    numbers = [d.item_number for d in drafts if by_number and d.item_number is not None]
    by_ref = existing(session, Item.external_ref, refs)
    by_nr = existing(session, Item.number, numbers)
    found: dict[int, Item] = {}
    errors: list[dict] = []
    for draft in drafts:
        ref = draft.external_ref
        named = by_ref.get(ref) if ref is not None else None
        numbered = by_nr.get(draft.item_number) if draft.item_number is not None else None
        if numbered is not None and ref is not None and numbered.external_ref != ref:
            check = RowCheck(draft.row, lang)
            if named is not None:
                check.fail(
                    "external_ref", "ref_elsewhere", value=ref, other=named.number,
                    number=numbered.number,
                )  # fmt: skip
            elif numbered.external_ref is not None:
                check.fail(
                    "external_ref", "ref_replaces", value=ref, number=numbered.number,
                    current=numbered.external_ref,
                )  # fmt: skip
            errors += check.errors
            if check.errors:
                continue
        item = numbered or named
        if item is not None:
            found[draft.row] = item
    return found, errors
