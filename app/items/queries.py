"""Item visibility, filters and keyset pagination."""

import base64
import binascii
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_

from app.auth.service import Caller
from app.errors import BadRequest
from app.items.models import Item, Light, Source
from app.units.service import subtree_codes


def scoped(stmt: Select, caller: Caller) -> Select:
    """Unit-bound callers see only their unit's subtree; everyone else sees all items."""
    if caller.scoped:
        if caller.unit_codes:
            return stmt.where(Item.unit_code.in_(caller.unit_codes))
        return stmt.where(Item.unit_code.in_(subtree_codes(caller.unit_path or "/-none-/")))
    return stmt


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

    def apply(self, stmt: Select, unit_path: str | list[str] | None = None) -> Select:
        """Add the filters. ``unit_path`` is the resolved path of ``unit`` (None: unknown),
        or better the list of its subtree's codes, which the planner can use an index for."""
        if self.state:
            stmt = stmt.where(Item.state.in_(self.state.split(",")))
        if self.unit and isinstance(unit_path, list):
            stmt = stmt.where(Item.unit_code.in_(unit_path))
        elif self.unit:
            stmt = stmt.where(Item.unit_code.in_(subtree_codes(unit_path or "/-none-/")))
        if self.source:
            stmt = stmt.where(Item.source == self.source.value)
        if self.campaign:
            stmt = stmt.where(Item.campaign == self.campaign)
        if self.light:
            stmt = stmt.where(Item.light == self.light.value)
        if self.overdue is not None:
            stmt = stmt.where((Item.light == "red") if self.overdue else (Item.light != "red"))
        if self.review_pending is not None:
            stmt = stmt.where(Item.review_pending.is_(self.review_pending))
        if self.q:
            stmt = stmt.where(
                or_(
                    Item.title.icontains(self.q, autoescape=True),
                    Item.description.icontains(self.q, autoescape=True),
                )
            )
        if self.due_before:
            stmt = stmt.where(Item.due_date <= self.due_before)
        if self.due_after:
            stmt = stmt.where(Item.due_date >= self.due_after)
        return stmt


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"i:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "i":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid; pass back a next_cursor unchanged.") from None


def page(session, stmt: Select, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page, newest first, keyset on id (stable while new items are being created):
    (items, next_cursor or None)."""
    if cursor:
        stmt = stmt.where(Item.id < decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(Item.id.desc()).limit(limit + 1)))
    return rows[:limit], encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
