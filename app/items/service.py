"""Item rules: create (idempotently), read within scope, edit, list."""

import hashlib
import json
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.auth.models import Role
from app.auth.service import Caller, with_unit_codes
from app.clock import now
from app.deadlines.schedule import rearm
from app.deadlines.store import load_calendar
from app.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from app.items.models import IdempotencyRecord, Item
from app.items.queries import ItemFilters, page, scoped
from app.items.schemas import PERSON_FIELDS, ItemCreate, ItemUpdate
from app.items.writer import (
    change,
    check_if_match,
    get_item,
    item_json,
    require_lead,
)
from app.plans.co_units import check_co_units, hand_over_measures, set_co_units
from app.settings import get_settings
from app.units.service import subtree_code_list
from app.workflow.registry import registry

IDEMPOTENCY_TTL = timedelta(hours=24)
DEFAULT_WORKFLOW = "rectification"


def _request_hash(data: ItemCreate) -> str:
    body = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _claim_idempotency_key(
    session: Session, caller: Caller, key: str, data: ItemCreate
) -> tuple[IdempotencyRecord | None, dict | None]:
    """(new record to fill, None) or (None, the first response to replay)."""
    if len(key) > 200:
        raise Invalid(
            "Idempotency-Key is too long.",
            errors=[{"field": "Idempotency-Key", "message": "at most 200 characters"}],
        )
    digest = _request_hash(data)
    moment = now(session)
    key_id, stored_key = caller.idempotency_slot(key)
    existing = session.scalars(
        select(IdempotencyRecord).where(
            col(IdempotencyRecord.key_id) == key_id,
            col(IdempotencyRecord.idempotency_key) == stored_key,
        )
    ).first()
    if existing is not None:
        if existing.created_at > moment - IDEMPOTENCY_TTL:
            if existing.request_hash != digest:
                raise Invalid(
                    "This Idempotency-Key was used with a different body.",
                    errors=[
                        {"field": "Idempotency-Key", "message": "reused with a different body"}
                    ],
                )
            return None, existing.response
        session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == existing.id))
    record = IdempotencyRecord(
        key_id=key_id, idempotency_key=stored_key, request_hash=digest, created_at=moment
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("A request with this Idempotency-Key is being processed; retry.") from None
    return record, None


def create_item(
    session: Session, caller: Caller, data: ItemCreate, idempotency_key: str | None = None
) -> tuple[dict, bool]:
    """Create an item in ``found``: (public item, created?)."""
    record = None
    if idempotency_key:
        record, replay = _claim_idempotency_key(session, caller, idempotency_key, data)
        if replay is not None:
            return replay, False
    item = new_item(session, caller, data)
    body = item_json(item)
    if record is not None:
        record.item_id = item.id
        record.response = body
        session.flush()
    return body, True


def external_ref_taken(ref: str, number: str | None) -> Conflict:
    return Conflict(
        f"The external_ref (外部编号) {ref!r} is already used by item {number}.",
        errors=[{"field": "external_ref", "message": f"already used by item {number}"}],
        existing_number=number,
    )


def workflow_for(data: ItemCreate):
    """The named workflow, else the one declaring the item's source, else the default."""
    name = data.workflow or registry.for_source(data.source.value) or DEFAULT_WORKFLOW
    try:
        return registry.latest(name)
    except NotFound:
        raise field_error("workflow", f"No workflow named {data.workflow!r}.") from None


def item_number(moment, item_id: int) -> str:
    """``2026-000017``: the year of creation (local) and the id."""
    return f"{moment.astimezone(get_settings().tz).year}-{item_id:06d}"


def order_type(wf, data: ItemCreate) -> str | None:
    if wf.types is None:
        if data.type is not None:
            raise field_error("type", f"Items of the workflow {wf.name!r} have no order type.")
        return None
    if data.type is None:
        return wf.types.default
    if data.type not in wf.types.names():
        raise field_error("type", f"Not one of {', '.join(wf.types.names())}.")
    return data.type


def new_item_columns(data: ItemCreate, moment) -> dict:
    """The columns of a new item made from ``data`` (422 for an order type its
    workflow does not have): ``POST /items`` and a bulk import alike."""
    wf = workflow_for(data)
    return dict(
        title=data.title,
        description=data.description,
        source=data.source,
        category=data.category,
        severity=data.severity,
        campaign=data.campaign,
        tags=list(data.tags),
        external_ref=data.external_ref,
        type=order_type(wf, data),
        state=wf.initial,
        workflow_name=wf.name,
        workflow_version=wf.version,
        created_at=moment,
        updated_at=moment,
    )


def new_item(session: Session, caller: Caller, data: ItemCreate, actor: str | None = None) -> Item:
    moment = now(session)
    columns = new_item_columns(data, moment)
    if data.external_ref is not None:
        holder = session.scalar(
            select(col(Item.number)).where(col(Item.external_ref) == data.external_ref)
        )
        if holder is not None:
            raise external_ref_taken(data.external_ref, holder)
    item = Item(**columns)
    session.add(item)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            f"The external_ref (外部编号) {data.external_ref!r} was used by another item "
            "just now; reload and try again."
        ) from None
    with change(session, item, at=moment, write="flush", bump=False) as created:
        item.number = item_number(moment, item.id)
        created.record("create", actor=actor or caller.actor, from_state=None, to_state=item.state)
        created.emit("item.created", actor=caller.identity())
    return item


def update_item(
    session: Session, caller: Caller, item_id: int, data: ItemUpdate, if_match: str | None
) -> Item:
    if caller.role not in (Role.admin, Role.supervisor, Role.unit):
        raise Forbidden("This needs the role admin or supervisor (or the lead unit).")
    changes = data.model_dump(exclude_unset=True, mode="json")
    if caller.role == Role.unit:
        others = sorted(set(changes) - set(PERSON_FIELDS))
        if others:
            raise Forbidden(f"A unit may set only {' and '.join(PERSON_FIELDS)}, not {others}.")
        item = require_lead(session, caller, item_id, "name the responsible people")
    else:
        item = get_item(session, caller, item_id, lock=True)
    check_if_match(item, if_match)
    if "title" in changes and (changes["title"] is None or not changes["title"].strip()):
        raise Invalid(
            "The title must not be blank.",
            errors=[{"field": "title", "message": "must not be blank"}],
        )
    if changes.get("severity") is None:
        changes.pop("severity", None)
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    for name in PERSON_FIELDS:
        if name in changes and changes[name] is not None:
            changes[name] = changes[name].strip() or None
    if changes.get("co_unit_codes") is not None:
        changes["co_unit_codes"] = check_co_units(session, changes["co_unit_codes"], item.unit_code)
    elif "co_unit_codes" in changes:
        changes["co_unit_codes"] = []
    changed = {k: v for k, v in changes.items() if getattr(item, k) != v}
    if not changed:
        return item
    moment = now(session)
    with change(session, item, at=moment) as edit:
        entry: dict = {"changed": changed}
        for key, value in changed.items():
            if key == "co_unit_codes":
                set_co_units(session, item, value)
                entry.update(hand_over_measures(session, item, moment))
            else:
                setattr(item, key, value)
        edit.record("edit", actor=caller.actor, data=entry)
    return item


def list_items(
    session: Session, caller: Caller, filters: ItemFilters, cursor: str | None, limit: int
) -> tuple[list[Item], str | None]:
    caller = with_unit_codes(session, caller)
    unit_codes = subtree_code_list(session, filters.unit) if filters.unit else None
    return page(session, filters.apply(scoped(select(Item), caller), unit_codes), cursor, limit)


def refresh_deadlines(session: Session, item: Item, calendar=None, moment=None) -> None:
    """Re-arm the ladder and recompute light / next check after a change."""
    wf = registry.get(item.workflow_name, item.workflow_version)
    rearm(item, wf, calendar or load_calendar(session), get_settings().tz, moment or now(session))
