"""HTTP for the event feed."""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.deps import CallerDep, SessionDep
from app.events import feed
from app.kit.cursors import PageLimit

router = APIRouter(tags=["events"])


class EventPage(BaseModel):
    data: list[dict]
    next_cursor: str


@router.get("/events", response_model=EventPage)
def list_events(
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[str | None, Query(max_length=100)] = None,
    type: Annotated[str | None, Query(max_length=500)] = None,
    subject: Annotated[str | None, Query(max_length=100)] = None,
    limit: PageLimit = 100,
):
    types = [t.strip() for t in (type or "").split(",") if t.strip()]
    data, next_cursor = feed.list_events(session, caller, after, types, subject, limit)
    return EventPage(data=data, next_cursor=next_cursor)
