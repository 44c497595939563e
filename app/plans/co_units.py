"""Co-units (配合单位) of an item: the rendered list and its index rows, kept together."""

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlmodel import Session, col

from app.db import table_of
from app.errors import field_error
from app.items.models import Item
from app.plans.models import ItemCoUnit, Measure, MeasureStatus
from app.units.models import Unit

MAX_CO_UNITS = 50
_LINKS = table_of(ItemCoUnit)
ROWS_LATER = "co_unit_rows_later"
"""Set in ``session.info`` by a bulk writer that inserts every item's ``item_co_unit``
rows itself from the final lists (``link_rows``) once its items are written: the
lists change as usual, the rows wait (the demo's year changes them a thousand times)."""


def check_co_units(session: Session, codes: list[str], lead: str | None) -> list[str]:
    """``codes`` without duplicates, if every one names an existing unit other than the
    lead (422 naming ``co_unit_codes`` otherwise)."""
    codes = list(dict.fromkeys(c.strip() for c in codes))
    if len(codes) > MAX_CO_UNITS:
        raise field_error("co_unit_codes", f"At most {MAX_CO_UNITS} co-units.")
    if lead is not None and lead in codes:
        raise field_error("co_unit_codes", f"The lead unit {lead!r} cannot also be a co-unit.")
    unknown = _not_held(session, codes)
    if unknown:
        known = set(session.scalars(select(col(Unit.code)).where(col(Unit.code).in_(unknown))))
        unknown = [c for c in unknown if c not in known]
    if unknown:
        raise field_error("co_unit_codes", f"No unit with code {', '.join(map(repr, unknown))}.")
    return codes


def _not_held(session: Session, codes: list[str]) -> list[str]:
    """The codes whose unit the session does not hold already (a unit is never
    deleted, so one it holds exists): only these are looked up."""
    held = session.identity_map
    return [c for c in codes if session.identity_key(Unit, c) not in held]


def set_co_units(session: Session, item: Item, codes: list[str]) -> None:
    """Make ``codes`` (already checked) the item's co-units: the item's list and the
    ``item_co_unit`` rows the scope queries use, written together."""
    if codes == list(item.co_unit_codes or []):
        return
    if session.info.get(ROWS_LATER):
        item.co_unit_codes = list(codes)
        return
    conn = session.connection()
    if item.co_unit_codes:  # the rows mirror the list: none to remove when it is empty
        conn.execute(delete(_LINKS).where(_LINKS.c.item_id == item.id))
    if codes:
        conn.execute(insert(_LINKS), [{"item_id": item.id, "unit_code": c} for c in codes])
    item.co_unit_codes = list(codes)


def apply_lead_change(
    session: Session, item: Item, requested: list[str] | None, at: datetime
) -> dict:
    """After the lead changed to ``item.unit_code`` (assign, reassign): the requested
    co-units, or when none were named the current ones minus the new lead; the measures
    that passed to the new lead, for the history entry (``hand_over_measures``)."""
    if requested is None:
        codes = [c for c in item.co_unit_codes or [] if c != item.unit_code]
    else:
        codes = check_co_units(session, requested, item.unit_code)
    set_co_units(session, item, codes)
    return hand_over_measures(session, item, at)


def hand_over_measures(session: Session, item: Item, at: datetime) -> dict:
    """The open measures of units no longer on the item (a former lead, a co-unit taken
    off) pass to its lead unit, which answers for the whole item: a measure's unit is
    the lead or a co-unit, and one left with a unit that no longer sees the item could
    be neither done nor edited. Done and ongoing ones keep the unit that did them.
    What passed, for the change's history entry: ``{"measures_handed_over": [...]}``
    (``{"measure_id","seq","from","to"}`` each), or nothing when none did."""
    lead = item.unit_code
    if lead is None:
        return {}
    involved = [lead, *(item.co_unit_codes or [])]
    left = session.scalars(
        select(Measure)
        .where(
            col(Measure.item_id) == item.id,
            col(Measure.status) == MeasureStatus.open,
            col(Measure.unit_code).not_in(involved),
        )
        .order_by(col(Measure.seq))
    ).all()
    handed = [{"measure_id": m.id, "seq": m.seq, "from": m.unit_code, "to": lead} for m in left]
    for measure in left:
        measure.unit_code, measure.updated_at = lead, at
    return {"measures_handed_over": handed} if handed else {}


def link_rows(items) -> list[dict]:
    """The ``item_co_unit`` rows of new ``items``, from their co-unit lists."""
    return [{"item_id": i.id, "unit_code": c} for i in items for c in i.co_unit_codes]
