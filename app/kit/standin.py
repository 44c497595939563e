"""Plain objects standing in for table rows where an ORM instance costs too much."""

from types import SimpleNamespace
from typing import Any, TypeVar, cast

from sqlmodel import SQLModel

Model = TypeVar("Model", bound=SQLModel)


def stand_in(model: type[Model], **values: Any) -> Model:
    """A plain object with ``values`` as its attributes, in place of a ``model`` row.

    A bulk import (``app.ledger.bulk``) and the demo's year (``app.demo.player``) run
    thousands of items through the same functions as the API (history, events, a
    transition's effects, deadlines, lights) on objects that only carry the row's
    columns: building and changing an ORM instance costs more than everything else
    done for it. Those functions read and set columns only, so the object is typed as
    ``model`` (one cast here rather than a second signature for each of them); nothing
    ORM-specific (a session, relationships, ``model``'s methods) is there to use, and
    the callers write the rows themselves."""
    return cast(Model, SimpleNamespace(**values))
