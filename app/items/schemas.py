"""Request and response bodies for items."""

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from app.items.models import Light, Satisfaction, Severity, Source
from app.items.refs import canonical_ref
from app.kit.dates import IsoDate

MAX_TAGS = 50


class WorkflowRef(BaseModel):
    name: str
    version: int


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    cleaned = [t.strip() for t in tags]
    if any(not t or len(t) > 50 for t in cleaned):
        raise ValueError("tags must be 1..50 characters")
    return list(dict.fromkeys(cleaned))


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20000)
    source: Source
    category: str | None = Field(default=None, max_length=100)
    severity: Severity = Severity.normal
    campaign: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    external_ref: str | None = Field(default=None, max_length=200)
    workflow: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=20)
    """工单类型, for workflows that declare types (the hotline); its default otherwise."""

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    _tags = field_validator("tags")(classmethod(lambda cls, v: _clean_tags(v)))

    @field_validator("external_ref")
    @classmethod
    def _external_ref(cls, v: str | None) -> str | None:
        return canonical_ref(v)


PERSON_FIELDS = ("responsible_person", "responsible_leader")
"""The fields of ItemUpdate the lead unit may set itself."""
CoUnitCodes = list[Annotated[str, Field(min_length=1, max_length=64)]]


class ItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    category: str | None = Field(default=None, max_length=100)
    severity: Severity | None = None
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    campaign: str | None = Field(default=None, max_length=200)
    co_unit_codes: CoUnitCodes | None = Field(default=None, max_length=50)
    responsible_person: str | None = Field(default=None, max_length=100)
    responsible_leader: str | None = Field(default=None, max_length=100)

    _tags = field_validator("tags")(classmethod(lambda cls, v: _clean_tags(v)))


class MeasuresSummary(BaseModel):
    total: int
    open: int
    done: int
    ongoing: int
    overdue: int


class ItemPublic(BaseModel):
    id: int
    number: str
    title: str
    description: str
    source: Source
    category: str | None
    severity: Severity
    unit_code: str | None
    campaign: str | None
    state: str
    review_pending: bool
    resolution: str | None
    workflow: WorkflowRef
    due_date: date | None
    accept_due_date: date | None
    light: Light
    escalation_level: int
    max_escalation_level: int
    was_overdue: bool
    on_time: bool | None
    version: int
    tags: list[str]
    external_ref: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    co_unit_codes: list[str]
    responsible_person: str | None
    responsible_leader: str | None
    measures_summary: MeasuresSummary
    type: str | None
    satisfaction: Satisfaction | None
    redo_count: int
    duplicate_of: int | None
    duplicate_count: int


class ItemPage(BaseModel):
    data: list[ItemPublic]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: list, next_cursor: str | None) -> "ItemPage":
        """A page of item rows (``(rows, next_cursor)`` as the listing queries return)."""
        return cls(data=[to_public(r) for r in rows], next_cursor=next_cursor)


class TransitionRequest(BaseModel):
    """An action and its fields; unknown extra fields are refused."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=40)
    comment: str | None = Field(default=None, max_length=20000)
    unit_code: str | None = Field(default=None, max_length=64)
    due_date: IsoDate | None = None
    co_unit_codes: CoUnitCodes | None = Field(default=None, max_length=50)
    satisfaction: Satisfaction | None = None
    into: StrictInt | None = Field(default=None, ge=1, le=2_147_483_647)


class MergeRequest(BaseModel):
    """重复件: close this order as a duplicate of ``into``."""

    model_config = ConfigDict(extra="forbid")
    into: StrictInt = Field(ge=1, le=2_147_483_647)
    comment: str | None = Field(default=None, max_length=20000)


class ActionInfo(BaseModel):
    name: str
    label: str
    requires: list[str]
    enabled: bool = True
    reason: str | None = None
    """Why it cannot be taken now (Chinese), when ``enabled`` is false."""


class ActionList(BaseModel):
    actions: list[ActionInfo]


class HistoryPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    comment: str | None
    data: dict
    hash: str


class HistoryList(BaseModel):
    data: list[HistoryPublic]


class HistoryVerification(BaseModel):
    ok: bool
    entries: int
    broken_seq: int | None = None


class HistoryVerificationAll(BaseModel):
    items: int
    ok: bool
    broken: list[int]


class EvidencePublic(BaseModel):
    id: int
    filename: str
    size: int
    sha256: str
    content_type: str
    uploaded_at: datetime


class EvidenceList(BaseModel):
    data: list[EvidencePublic]


_COMPUTED = {"workflow", "measures_summary"}
_PLAIN = tuple(k for k in ItemPublic.model_fields if k not in _COMPUTED)


def to_public(item) -> ItemPublic:
    """One validation of the item's columns, the nested models as dicts (the same
    model as building each nested one first, in half the time: done per event).

    A loaded column's value is in the instance's dict, which is what the attribute
    would return; the descriptors cost more than the model's validation (a batch
    makes 500). A column not loaded (expired) goes through the attribute."""
    state = vars(item)
    values = {k: state[k] if k in state else getattr(item, k) for k in _PLAIN}
    values["workflow"] = {"name": item.workflow_name, "version": item.workflow_version}
    values["measures_summary"] = {
        "total": item.measures_total,
        "open": item.measures_open,
        "done": item.measures_done,
        "ongoing": item.measures_ongoing,
        "overdue": item.measures_overdue,
    }
    return ItemPublic.model_validate(values)


def _day(value: date) -> str:
    return value.isoformat()


def _moment(value: datetime) -> str:
    """As pydantic writes a datetime in JSON: ISO 8601, UTC as ``Z``."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _member_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _renderer(annotation: Any) -> Callable[[Any], Any] | None:
    """How ``public_json`` writes a value of a field of ``ItemPublic`` so annotated
    (None: as it is; a None value stays None whatever the type)."""
    kind = annotation
    if get_origin(annotation) in (Union, UnionType):  # X | None: as X
        kind = next(a for a in get_args(annotation) if a is not NoneType)
    if get_origin(kind) is list:
        return list
    if kind is datetime:
        return _moment
    if kind is date:
        return _day
    if kind is bool:
        return bool
    if isinstance(kind, type) and issubclass(kind, Enum):
        return _member_value
    return None


def _workflow(item) -> dict:
    return {"name": item.workflow_name, "version": item.workflow_version}


def _measures_summary(item) -> dict:
    return {
        "total": item.measures_total,
        "open": item.measures_open,
        "done": item.measures_done,
        "ongoing": item.measures_ongoing,
        "overdue": item.measures_overdue,
    }


_NESTED = {"workflow": _workflow, "measures_summary": _measures_summary}
assert set(_NESTED) == _COMPUTED
# (field, how its value is written, or how it is made from the item when nested)
_PUBLIC = tuple(
    (name, _renderer(field.annotation), _NESTED.get(name))
    for name, field in ItemPublic.model_fields.items()
)


def public_json(item) -> dict:
    """``to_public(item).model_dump(mode="json")`` without building the model: the
    same dict (keys in the same order; tests/items/test_item_json.py holds them
    equal), in a fraction of the time. Every transition makes one (its events'
    snapshot and its response) and every event of an item carries one.

    The values are the item's own (a loaded column from the instance's dict, as
    ``to_public`` reads them), written as pydantic writes them in JSON: dates and
    datetimes in ISO 8601 (UTC as ``Z``), enum members as their values, booleans
    as booleans, lists copied. Nothing is validated: they are the columns' values
    as stored."""
    state = vars(item)
    out: dict[str, Any] = {}
    for name, render, nested in _PUBLIC:
        if nested is not None:
            out[name] = nested(item)
            continue
        value = state[name] if name in state else getattr(item, name)
        out[name] = value if render is None or value is None else render(value)
    return out
