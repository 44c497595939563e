"""Reading an item's measures and their progress reports: one measure of an item (locked
for a change, or not), the API's lists and single reads, and their JSON."""

from sqlalchemy import select
from sqlmodel import Session, col

from app.auth.service import Caller
from app.errors import NotFound
from app.items.models import Item
from app.items.writer import get_item
from app.kit.children import children
from app.plans.models import Measure, MeasureProgress
from app.plans.schemas import MeasurePublic


def measure_json(m: Measure) -> dict:
    return MeasurePublic.model_validate(m, from_attributes=True).model_dump(mode="json")


def progress_json(p: MeasureProgress) -> dict:
    at = p.at.isoformat().replace("+00:00", "Z")
    return {"at": at, "actor": p.actor, "comment": p.comment, "percent": p.percent}


def find_measure(session: Session, item: Item, measure_id: int, lock: bool = True) -> Measure:
    stmt = select(Measure).where(col(Measure.id) == measure_id, col(Measure.item_id) == item.id)
    measure = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if measure is None:
        raise NotFound(f"No measure {measure_id} on item {item.id}.")
    return measure


def get_measure(session: Session, caller: Caller, item_id: int, measure_id: int) -> Measure:
    """One measure of an item in the caller's scope (the 201's ``Location``)."""
    return find_measure(session, get_item(session, caller, item_id), measure_id, lock=False)


def list_measures(session: Session, caller: Caller, item_id: int) -> list[Measure]:
    get_item(session, caller, item_id)
    return children(session, Measure, Measure.item_id, item_id, order=Measure.seq)


def get_progress(
    session: Session, caller: Caller, item_id: int, measure_id: int, progress_id: int
) -> MeasureProgress:
    """One progress report of a measure in the caller's scope (the 201's ``Location``)."""
    measure = find_measure(session, get_item(session, caller, item_id), measure_id, lock=False)
    found = session.get(MeasureProgress, progress_id)
    if found is None or found.measure_id != measure.id:
        raise NotFound(f"No progress report {progress_id} on measure {measure_id}.")
    return found


def list_progress(
    session: Session, caller: Caller, item_id: int, measure_id: int
) -> list[MeasureProgress]:
    item = get_item(session, caller, item_id)
    measure = find_measure(session, item, measure_id, lock=False)
    return children(
        session, MeasureProgress, MeasureProgress.measure_id, measure.id, order=MeasureProgress.id
    )
