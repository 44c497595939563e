"""Request and response bodies for measures and their progress."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from app.items.models import Light
from app.kit.dates import IsoDate
from app.plans.models import MeasureKind, MeasureStatus


def _not_blank(v: str | None) -> str | None:
    if v is not None and not v.strip():
        raise ValueError("must not be blank")
    return v.strip() if v is not None else None


class MeasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    kind: MeasureKind
    unit_code: str | None = Field(default=None, max_length=64)
    due_date: IsoDate | None = None

    _title = field_validator("title")(classmethod(lambda cls, v: _not_blank(v)))


class MeasureUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    kind: MeasureKind | None = None
    unit_code: str | None = Field(default=None, max_length=64)
    due_date: IsoDate | None = None

    _title = field_validator("title")(classmethod(lambda cls, v: _not_blank(v)))


class ProgressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=20000)
    percent: StrictInt | None = Field(default=None, ge=0, le=100)

    _comment = field_validator("comment")(classmethod(lambda cls, v: _not_blank(v)))


class MeasureComment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=20000)

    _comment = field_validator("comment")(classmethod(lambda cls, v: _not_blank(v)))


class Progress(BaseModel):
    """A progress report as a measure shows its latest (``latest_progress``)."""

    at: datetime
    actor: str
    comment: str
    percent: int | None


class ProgressPublic(Progress):
    """A progress report as its own resource (``.../progress/{id}``)."""

    id: int


class MeasurePublic(BaseModel):
    id: int
    item_id: int
    seq: int
    title: str
    unit_code: str
    kind: MeasureKind
    due_date: date | None
    status: MeasureStatus
    light: Light
    completed_at: datetime | None
    latest_progress: Progress | None
    created_at: datetime
    updated_at: datetime


class MeasureList(BaseModel):
    data: list[MeasurePublic]


class ProgressList(BaseModel):
    data: list[ProgressPublic]
