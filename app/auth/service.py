"""API keys: random tokens, stored as SHA-256 digests.

Tokens carry 256 bits of randomness, so a fast hash is the right choice (a
slow password hash protects low-entropy secrets; it would only add latency).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from sqlalchemy import bindparam, select
from sqlmodel import Session

from app.auth.models import ApiKey, ApiKeyCreate, Role
from app.clock import real_now
from app.db import serialize_with_other_processes
from app.deadlines.store import overrides_json, use_overrides_json
from app.errors import Conflict, NotFound, field_error
from app.locks import STARTUP_LOCK
from app.units.models import Unit
from app.units.service import subtree_codes

TOKEN_PREFIX = "rk_"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's identity, role and (for unit keys) unit subtree."""

    key_id: int
    name: str
    role: Role
    unit_code: str | None = None
    unit_path: str | None = None
    unit_codes: tuple[str, ...] = ()
    """For unit keys, once ``with_unit_codes`` has resolved them: the codes of the
    unit and all its descendants, a literal list the planner can use an index for
    (list queries want it; one item by id does not need it)."""

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_key(
    session: Session, data: ApiKeyCreate, token: str | None = None
) -> tuple[ApiKey, str]:
    if data.role == Role.unit:
        if not data.unit_code:
            raise field_error("unit_code", "A unit key must name its unit.")
    elif data.unit_code:
        raise field_error("unit_code", "Only unit keys are bound to a unit.")
    if data.unit_code and session.get(Unit, data.unit_code) is None:
        raise field_error("unit_code", f"No unit with code {data.unit_code!r}.")
    token = token or new_token()
    key = ApiKey(
        name=data.name,
        role=data.role.value,
        unit_code=data.unit_code,
        token_hash=hash_token(token),
        created_at=real_now(),
    )
    session.add(key)
    session.flush()
    return key, token


_keys, _units = ApiKey.__table__.c, Unit.__table__.c
# Every request authenticates: the statements are built once and run as Core.
_LIVE_KEY = (
    select(_keys.id, _keys.name, _keys.role, _keys.unit_code, _keys.token_hash, _units.path)
    .select_from(ApiKey.__table__.outerjoin(Unit.__table__, _units.code == _keys.unit_code))
    .where(_keys.token_hash == bindparam("digest"), _keys.revoked_at.is_(None))
)


# The same, with the calendar overrides in the same round trip (for transitions).
_LIVE_KEY_AND_CALENDAR = {
    dialect: _LIVE_KEY.add_columns(overrides_json(dialect)) for dialect in ("postgresql", "sqlite")
}


def authenticate(session: Session, token: str, *, with_calendar: bool = False) -> Caller | None:
    """The caller holding ``token`` (a live key), or None. Runs on every request.

    ``with_calendar``: read the calendar overrides in the same statement and make
    them this transaction's calendar (``load_calendar`` then reads nothing)."""
    digest = hash_token(token)
    conn = session.connection()
    stmt = _LIVE_KEY_AND_CALENDAR[conn.dialect.name] if with_calendar else _LIVE_KEY
    row = conn.execute(stmt, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if with_calendar:
        use_overrides_json(session, row.calendar_overrides)
    return Caller(row.id, row.name, Role(row.role), row.unit_code, row.path)


def with_unit_codes(session: Session, caller: Caller) -> Caller:
    """``caller`` with its subtree's unit codes resolved (unit keys; others unchanged)."""
    if caller.role != Role.unit or caller.unit_codes or not caller.unit_path:
        return caller
    codes = tuple(session.scalars(subtree_codes(caller.unit_path)))
    return replace(caller, unit_codes=codes)


def list_keys(session: Session) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.id))
    )


def revoke_key(session: Session, key_id: int) -> None:
    key = session.get(ApiKey, key_id, with_for_update=True)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"No key with id {key_id}.")
    if key.role == Role.admin.value:
        admins = session.scalars(
            select(ApiKey.id)
            .where(ApiKey.role == Role.admin.value, ApiKey.revoked_at.is_(None))
            .with_for_update()
        ).all()
        if len(admins) <= 1:
            raise Conflict("This is the last admin key; create another admin key first.")
    key.revoked_at = real_now()
    session.flush()


def ensure_bootstrap_admin(session: Session, token: str) -> bool:
    """Create an admin key with exactly ``token`` when no admin key exists yet."""
    serialize_with_other_processes(session, STARTUP_LOCK)
    exists = session.scalar(
        select(ApiKey.id).where(ApiKey.role == Role.admin.value, ApiKey.revoked_at.is_(None))
    )
    if exists is not None:
        return False
    if session.scalar(select(ApiKey.id).where(ApiKey.token_hash == hash_token(token))):
        return False
    create_key(session, ApiKeyCreate(name="bootstrap-admin", role=Role.admin), token=token)
    return True
