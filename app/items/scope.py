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

from app.auth.models import Role
from app.auth.service import Caller
from app.items.models import Item
from app.plans.models import ItemCoUnit
from app.units.service import subtree_codes


def lead_and_co_unit(codes) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the lead lies in ``codes``, a co-unit does): ``codes`` is a list of unit
    codes or a SELECT of them (a subtree)."""
    lead = Item.unit_code.in_(codes)
    co = exists().where(ItemCoUnit.item_id == Item.id, ItemCoUnit.unit_code.in_(codes))
    return lead, co


def covering(codes) -> ColumnElement[bool]:
    """Items whose lead or a co-unit lies in ``codes`` (a list or a SELECT of codes)."""
    if isinstance(codes, list | tuple):
        # A literal list: the co-unit side as an IN over the (unit_code, item_id) index,
        # which the planners turn into an index scan plus a hash/merge with the lead side.
        co_items = select(ItemCoUnit.item_id).where(ItemCoUnit.unit_code.in_(codes))
        return or_(Item.unit_code.in_(codes), Item.id.in_(co_items))
    return or_(*lead_and_co_unit(codes))


def caller_codes(caller: Caller):
    """The unit codes a unit-bound caller is confined to (a list once resolved by
    ``with_unit_codes``, else a subquery), or None for a caller who sees everything."""
    if caller.role != Role.unit:
        return None
    if caller.unit_codes:
        return list(caller.unit_codes)
    return subtree_codes(caller.unit_path or "/-none-/")


def scoped(stmt: Select, caller: Caller) -> Select:
    """``stmt`` over items, narrowed to what ``caller`` may see."""
    codes = caller_codes(caller)
    return stmt if codes is None else stmt.where(covering(codes))


def visible_item_ids(caller: Caller) -> Select:
    """A SELECT of the ids of the items ``caller`` may see (for tables keyed by item)."""
    return scoped(select(Item.id), caller)


def covers(codes: Collection[str], lead: str | None, co_units: Iterable[str] | None) -> bool:
    """Does the subtree ``codes`` hold ``lead`` or one of ``co_units``? (``covering`` in
    Python, for an event's recorded units.)"""
    return lead in codes or any(c in codes for c in co_units or ())
