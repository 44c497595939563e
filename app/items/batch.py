"""One action on many items (``POST /items/batch``): each item in its own transaction.

Every item goes through the same ``transition`` as ``POST /items/{id}/transitions``
(roles, scope, guards, history, events), in a unit of work of its own, so one
refusal does not undo the others. The caller is authenticated once, before
the first item, and the units of work share one session (and connection).
"""

import logging

from pydantic import Field, field_validator
from sqlalchemy import Engine
from sqlmodel import Session

from app.auth.service import Caller
from app.db import new_session, unit_of_work
from app.errors import ProblemError, problem_body, problem_of
from app.items.schemas import TransitionRequest
from app.items.transitions import transition
from app.items.writer import item_json

log = logging.getLogger("rectify.batch")
MAX_IDS = 500


class BatchRequest(TransitionRequest):
    """An action and its fields, for every item in ``ids`` (1..500, no repeats)."""

    ids: list[int] = Field(min_length=1, max_length=MAX_IDS)

    @field_validator("ids")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("each id at most once")
        return v


def _one(session: Session, caller: Caller, item_id: int, request: TransitionRequest) -> dict:
    try:
        with unit_of_work(session=session):
            item = transition(session, caller, item_id, request, None)
            return {"id": item_id, "status": 200, "item": item_json(item)}
    except ProblemError as exc:
        return {"id": item_id, "status": exc.status, "problem": problem_of(exc)}
    except Exception:  # noqa: BLE001 - one item's failure must not hide the others' results
        log.exception("batch %s failed on item %s", request.action, item_id)
        detail = "An unexpected error occurred on this item; it has been logged."
        return {
            "id": item_id,
            "status": 500,
            "problem": problem_body(500, "Internal server error", detail, "internal"),
        }


def run_batch(engine: Engine, caller: Caller, body: BatchRequest) -> dict:
    """``{"results":[{"id","status","item"|"problem"}],"succeeded","failed"}`` in ``ids`` order."""
    request = TransitionRequest.model_validate(body.model_dump(exclude={"ids"}))
    with new_session(write=True, engine=engine) as session:
        results = [_one(session, caller, item_id, request) for item_id in body.ids]
    succeeded = sum(1 for r in results if r["status"] == 200)
    return {"results": results, "succeeded": succeeded, "failed": len(results) - succeeded}
