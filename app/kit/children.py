"""A parent's rows in their order: an item's evidence, extensions, measures and history,
a measure's progress, a delivery's attempts."""

from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import Session, SQLModel, col

M = TypeVar("M", bound=SQLModel)


def children(session: Session, model: type[M], key: Any, parent_id: int, *, order: Any) -> list[M]:
    """The ``model`` rows whose ``key`` column is ``parent_id``, ordered by ``order``."""
    return list(session.scalars(select(model).where(col(key) == parent_id).order_by(col(order))))
