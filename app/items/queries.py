"""Item visibility, filters and keyset pagination."""

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Boolean, Select, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlmodel import col

from app.items.models import Item, ItemType, Light, Source
from app.items.refs import canonical_ref
from app.items.scope import covering, newest_page, scoped
from app.kit import cursors
from app.kit.scope import unit_path_or_none
from app.units.service import subtree_codes

__all__ = ["ItemFilters", "page", "scoped"]


class tags_contain(FunctionElement):  # noqa: N801 (an SQL expression, named like one)
    """``tags`` (a JSON array column) holds this exact tag."""

    type = Boolean()
    inherit_cache = True
    name = "tags_contain"


@compiles(tags_contain, "postgresql")
def _tags_contain_pg(element, compiler, **kw):
    column, tag = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST({column} AS JSONB) @> CAST({tag} AS JSONB)"


@compiles(tags_contain)
def _tags_contain_sqlite(element, compiler, **kw):
    column, tag = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"EXISTS (SELECT 1 FROM json_each({column}) "
        f"WHERE json_each.value = json_extract({tag}, '$[0]'))"
    )


@dataclass
class ItemFilters:
    state: str | None = None
    unit: str | None = None
    source: Source | None = None
    campaign: str | None = None
    light: Light | None = None
    overdue: bool | None = None
    review_pending: bool | None = None
    q: str | None = None
    due_before: date | None = None
    due_after: date | None = None
    tag: str | None = None
    external_ref: str | None = None
    type: ItemType | None = None
    was_overdue: bool | None = None

    def apply(self, stmt: Select, unit_path: str | list[str] | None = None) -> Select:
        """Add the filters. ``unit_path`` is the resolved path of ``unit`` (None: unknown),
        or better the list of its subtree's codes, which the planner can use an index for.
        ``unit`` matches the lead or a co-unit."""
        if self.state:
            stmt = stmt.where(col(Item.state).in_(self.state.split(",")))
        if self.unit:
            if isinstance(unit_path, list):
                stmt = stmt.where(covering(unit_path))
            else:
                stmt = stmt.where(covering(subtree_codes(unit_path_or_none(unit_path))))
        if self.source:
            stmt = stmt.where(col(Item.source) == self.source.value)
        if self.campaign:
            stmt = stmt.where(col(Item.campaign) == self.campaign)
        if self.light:
            stmt = stmt.where(col(Item.light) == self.light.value)
        if self.overdue is not None:
            stmt = stmt.where(
                (col(Item.light) == "red") if self.overdue else (col(Item.light) != "red")
            )
        if self.review_pending is not None:
            stmt = stmt.where(col(Item.review_pending).is_(self.review_pending))
        if self.q:
            stmt = stmt.where(
                or_(
                    *(
                        column.icontains(self.q, autoescape=True)
                        for column in (
                            col(Item.title),
                            col(Item.description),
                            col(Item.number),
                            col(Item.external_ref),
                        )
                    )
                )
            )
        if self.tag:
            stmt = stmt.where(
                tags_contain(col(Item.tags), json.dumps([self.tag], ensure_ascii=False))
            )
        if self.external_ref:
            stmt = stmt.where(col(Item.external_ref) == canonical_ref(self.external_ref))
        if self.type:
            stmt = stmt.where(col(Item.type) == self.type.value)
        if self.was_overdue is not None:
            stmt = stmt.where(col(Item.was_overdue).is_(self.was_overdue))
        if self.due_before:
            stmt = stmt.where(col(Item.due_date) <= self.due_before)
        if self.due_after:
            stmt = stmt.where(col(Item.due_date) >= self.due_after)
        return stmt


def page(session, stmt: Select, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page, newest first, keyset on id (stable while new items are being created):
    (items, next_cursor or None). ``stmt`` is ``select(Item)`` with WHERE criteria
    (``newest_page`` walks a unit's lead and co-unit branches)."""
    before = cursors.decode("i", cursor) if cursor else None
    rows = list(session.scalars(newest_page(stmt, limit + 1, before)))
    return rows[:limit], cursors.encode("i", rows[limit - 1].id) if len(rows) > limit else None
