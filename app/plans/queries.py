"""Reads of an item's measures that rules outside the plans need (a workflow guard)."""

from sqlalchemy import select
from sqlmodel import Session

from app.plans.models import Measure, MeasureStatus


def open_measures(session: Session, item_id: int) -> list[Measure]:
    return list(
        session.scalars(
            select(Measure)
            .where(Measure.item_id == item_id, Measure.status == MeasureStatus.open.value)
            .order_by(Measure.seq)
        )
    )
