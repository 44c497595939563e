"""Reads of an item's measures that rules outside the plans need (a workflow guard)."""

from sqlalchemy import select
from sqlmodel import Session, col

from app.plans.models import Measure, MeasureStatus


def open_measures(session: Session, item_id: int) -> list[Measure]:
    return list(
        session.scalars(
            select(Measure)
            .where(col(Measure.item_id) == item_id, col(Measure.status) == MeasureStatus.open.value)
            .order_by(col(Measure.seq))
        )
    )
