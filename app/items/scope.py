"""Scope is lead or co-unit (DESIGN.md): the one rule for who sees an item.

A unit subtree covers an item when it holds the item's lead unit
(``unit_code``) or any of its co-units. ``covering`` is that rule as SQL over
the item table and its ``item_co_unit`` index rows; every route, list,
export, report, feed and the escalation list filter through it. Fan-out
asks the same question of an event, about the units it was emitted for
(``covers``), so a subscription hears what the item's units were when it
happened, however late the worker runs.
"""

from collections.abc import Collection, Iterable

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.types import NullType
from sqlmodel import Session, col

from app.auth.service import Caller, with_unit_codes
from app.items.models import Item
from app.kit.scope import unit_path_or_none
from app.plans.models import ItemCoUnit
from app.units.service import subtree_codes


def lead_and_co_unit(codes) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the lead lies in ``codes``, a co-unit does): ``codes`` is a list of unit
    codes or a SELECT of them (a subtree)."""
    lead = col(Item.unit_code).in_(codes)
    co = exists(
        select(col(ItemCoUnit.item_id))
        .where(col(ItemCoUnit.item_id) == col(Item.id), col(ItemCoUnit.unit_code).in_(codes))
        .correlate(Item)  # only the item: within a query that reads item_co_unit too
    )
    return lead, co


def covering(codes) -> ColumnElement[bool]:
    """Items whose lead or a co-unit lies in ``codes`` (a list or a SELECT of codes)."""
    if isinstance(codes, list | tuple):
        return _CoveringCodes(list(codes))
    return or_(*lead_and_co_unit(codes))


class _CoveringCodes(ColumnElement[bool]):
    """``covering`` for a literal list of codes (a filter, a unit key's resolved
    subtree), written the way each planner finds one page fastest (bench/queries.py):

    - PostgreSQL: ``unit_code IN (..) OR id IN (co-unit item ids)``: a backward walk
      of the primary key with a hashed lookup, or bitmap scans, by its estimates;
    - SQLite: ``id IN (lead ids UNION ALL co-unit item ids)``, both from covering
      indexes: it walks that id set in id order and stops after one page (an OR
      made it fetch and sort every match).
    """

    inherit_cache = False
    type = NullType()  # type: ignore[assignment]  # a WHERE fragment compiled by hand: no result type

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes

    def co_unit_item_ids(self) -> Select:
        return select(col(ItemCoUnit.item_id)).where(col(ItemCoUnit.unit_code).in_(self.codes))

    def per_row(self) -> ColumnElement[bool]:
        """The rule as a test of one item row (the lead, or an EXISTS probe of the
        co-unit primary key): for a page that walks items newest first."""
        return or_(*lead_and_co_unit(self.codes))


@compiles(_CoveringCodes)
def _covering_or(element: _CoveringCodes, compiler, **kw) -> str:
    clause = or_(
        col(Item.unit_code).in_(element.codes), col(Item.id).in_(element.co_unit_item_ids())
    )
    return compiler.process(clause.self_group(), **kw)  # parenthesised among other criteria


@compiles(_CoveringCodes, "sqlite")
def _covering_union(element: _CoveringCodes, compiler, **kw) -> str:
    leads = select(col(Item.id)).where(col(Item.unit_code).in_(element.codes))
    return compiler.process(col(Item.id).in_(leads.union_all(element.co_unit_item_ids())), **kw)


# Up to this many codes, a page is read branch by branch (``newest_page``); a wider
# subtree is usually a large share of all items, which a newest-first walk finds sooner.
BRANCH_CODES_MAX = 8


def newest_page(stmt: Select, n: int, before: int | None = None) -> Select:
    """The first ``n`` items of ``stmt`` (``select(Item)`` with WHERE criteria only)
    with ids below ``before`` (a keyset cursor), newest first, written so that one
    page reads about ``n`` index entries per branch rather than every item in scope.

    With a ``covering`` over a literal code list among the criteria (the ``unit``
    filter, a unit key's subtree; of two, the narrower), each code makes two
    branches: the items it leads, walked backwards on ``(unit_code, id)``, and the
    items it cooperates on, walked backwards on ``item_co_unit (unit_code,
    item_id)``; each branch carries every other criterion and stops after ``n``
    rows; the page is the newest ``n`` of their union. That costs the same on
    SQLite and PostgreSQL whatever the unit's size, where the rule as one
    predicate made SQLite collect every id in scope before the first row, and
    PostgreSQL hash every co-unit link of the unit (bench/queries.py). A subtree
    of more than ``BRANCH_CODES_MAX`` codes is tested row by row along the
    primary key instead.
    """
    where = stmt.whereclause
    criteria: list = []
    if where is not None:
        criteria = list(where.clauses) if _is_and(where) else [where]
    coverings = [c for c in criteria if isinstance(c, _CoveringCodes)]
    if not coverings:
        stmt = stmt if before is None else stmt.where(col(Item.id) < before)
        return stmt.order_by(col(Item.id).desc()).limit(n)
    drive = min(coverings, key=lambda c: len(c.codes))
    rest = [c.per_row() if isinstance(c, _CoveringCodes) else c for c in criteria if c is not drive]
    if not drive.codes:
        return select(Item).where(false())
    if len(drive.codes) > BRANCH_CODES_MAX:
        if before is not None:
            rest.append(col(Item.id) < before)
        return select(Item).where(drive.per_row(), *rest).order_by(col(Item.id).desc()).limit(n)
    branches = []
    for code in drive.codes:
        lead = (
            select(col(Item.id))
            .where(col(Item.unit_code) == code, *rest)
            .order_by(col(Item.id).desc())
        )
        co = (
            select(col(Item.id))
            .join(ItemCoUnit, col(ItemCoUnit.item_id) == col(Item.id))
            .where(col(ItemCoUnit.unit_code) == code, *rest)
            .order_by(col(ItemCoUnit.item_id).desc())
        )
        if before is not None:  # on the column each branch walks
            lead = lead.where(col(Item.id) < before)
            co = co.where(col(ItemCoUnit.item_id) < before)
        # SQLite takes LIMIT inside a compound SELECT only in a subquery
        branches += [select(b.limit(n).subquery().c.id) for b in (lead, co)]
    ids = union_all(*branches)
    return select(Item).where(col(Item.id).in_(ids)).order_by(col(Item.id).desc()).limit(n)


def _is_and(clause) -> bool:
    return getattr(clause, "operator", None) is operators.and_ and hasattr(clause, "clauses")


def caller_codes(caller: Caller):
    """The unit codes a unit-bound caller is confined to (a list once resolved by
    ``with_unit_codes``, else a subquery), or None for a caller who sees everything."""
    if not caller.scoped:
        return None
    if caller.unit_codes:
        return list(caller.unit_codes)
    return subtree_codes(unit_path_or_none(caller.unit_path))


def scoped(stmt: Select, caller: Caller) -> Select:
    """``stmt`` over items, narrowed to what ``caller`` may see."""
    codes = caller_codes(caller)
    return stmt if codes is None else stmt.where(covering(codes))


def visible_item_ids(caller: Caller) -> Select:
    """A SELECT of the ids of the items ``caller`` may see (for tables keyed by item)."""
    return scoped(select(col(Item.id)), caller)


def acts_for_lead(session: Session, caller: Caller, item: Item) -> bool:
    """Whether ``caller`` acts for the item's lead unit: always for a caller who sees
    everything, for a unit key when its subtree holds the lead (not only a co-unit).
    (Requests that load the item learn this with it: ``items.writer.get_item_as``.)"""
    codes = caller_codes(with_unit_codes(session, caller))
    if codes is None:
        return True
    return isinstance(codes, list) and covers(codes, item.unit_code, ())


def covers(codes: Collection[str], lead: str | None, co_units: Iterable[str] | None) -> bool:
    """Does the subtree ``codes`` hold ``lead`` or one of ``co_units``? (``covering`` in
    Python, for an event's recorded units.)"""
    return lead in codes or any(c in codes for c in co_units or ())
