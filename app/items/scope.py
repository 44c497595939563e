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

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.ext.compiler import compiles
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
    co = exists().where(
        col(ItemCoUnit.item_id) == col(Item.id), col(ItemCoUnit.unit_code).in_(codes)
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
