"""API keys: random tokens, stored as SHA-256 digests.

Tokens carry 256 bits of randomness, so a fast hash is the right choice (a
slow password hash protects low-entropy secrets; it would only add latency).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from app.auth import oidc
from app.auth.models import ApiKey, ApiKeyCreate, Role
from app.clock import real_now
from app.db import serialize_with_other_processes, table_of
from app.deadlines.store import overrides_json, use_overrides_json
from app.errors import Conflict, Forbidden, NotFound, field_error
from app.locks import STARTUP_LOCK
from app.settings import get_settings
from app.units.models import Unit
from app.units.service import subtree_codes

TOKEN_PREFIX = "rk_"
UNIT_BOUND_ROLES = frozenset({Role.unit, Role.viewer})
"""Roles that may be bound to a unit (a unit must be; a viewer may, to read a subtree)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling -- an API key or a person signed in with the identity provider,
    in one shape: rules look at the role and the unit scope, never at the kind.

    ``unit_code`` binds a unit key or person (always) or a viewer (optionally) to a
    unit's subtree."""

    key_id: int | None
    name: str
    role: Role
    unit_code: str | None = None
    unit_path: str | None = None
    unit_codes: tuple[str, ...] = ()
    """For unit-bound callers, once ``with_unit_codes`` has resolved them: the codes of
    the unit and all its descendants, a literal list the planner can use an index for
    (list queries want it; one item by id does not need it)."""
    kind: str = "key"
    """``key`` or ``person``: for display (``/me``), not for rules."""
    subject: str = ""
    """Stable identity: the token's ``sub`` for a person, ``key:<id>`` for a key."""

    @property
    def scoped(self) -> bool:
        """Bound to a unit's subtree: sees only items there."""
        return self.unit_code is not None

    @property
    def actor(self) -> str:
        """How history names the caller: ``role:name``, and a person's subject too."""
        if self.kind == "key":
            return f"{self.role}:{self.name}"
        return f"{self.role}:{self.name} <{self.subject}>"

    def identity(self) -> dict:
        """How events name the caller."""
        return {"kind": self.kind, "name": self.name, "subject": self.subject, "role": self.role}

    def idempotency_slot(self, key: str) -> tuple[int, str]:
        """Where an ``Idempotency-Key`` of this caller is recorded: (key id, stored key).
        People have no key id; theirs is recorded under 0 as a digest of subject and key."""
        if self.kind == "key" and self.key_id is not None:
            return self.key_id, key
        return 0, hashlib.sha256(f"{self.subject}\0{key}".encode()).hexdigest()


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
    elif data.unit_code and data.role not in UNIT_BOUND_ROLES:
        raise field_error("unit_code", "Only unit and viewer keys are bound to a unit.")
    if data.unit_code and session.get(Unit, data.unit_code) is None:
        raise field_error("unit_code", f"No unit with code {data.unit_code!r}.")
    token = token or new_token()
    key = ApiKey(
        name=data.name,
        role=data.role,
        unit_code=data.unit_code,
        token_hash=hash_token(token),
        created_at=real_now(),
    )
    session.add(key)
    session.flush()
    return key, token


_keys, _units = table_of(ApiKey).c, table_of(Unit).c
# Every request authenticates: the statements are built once and run as Core.
_LIVE_KEY = (
    select(_keys.id, _keys.name, _keys.role, _keys.unit_code, _keys.token_hash, _units.path)
    .select_from(table_of(ApiKey).outerjoin(table_of(Unit), _units.code == _keys.unit_code))
    .where(_keys.token_hash == bindparam("digest"), _keys.revoked_at.is_(None))
)


_UNIT_PATH = select(_units.path).where(_units.code == bindparam("code"))


def _and_calendar(stmt) -> dict:
    """``stmt`` with the calendar overrides as one more column, per dialect: the caller's
    statement reads them in the same round trip (for transitions)."""
    return {
        dialect: stmt.add_columns(overrides_json(dialect)) for dialect in ("postgresql", "sqlite")
    }


_LIVE_KEY_AND_CALENDAR = _and_calendar(_LIVE_KEY)
_UNIT_PATH_AND_CALENDAR = _and_calendar(_UNIT_PATH)


def authenticate(session: Session, token: str, *, with_calendar: bool = False) -> Caller | None:
    """The caller holding ``token`` -- a live API key, or a person's access token from
    the identity provider when one is configured -- or None. Runs on every request;
    a person's token that is invalid is 401, one whose role or unit is unusable 403.

    ``with_calendar``: read the calendar overrides in the statement that reads the key
    (or a person's unit) and make them this transaction's calendar (``load_calendar``
    then reads nothing); a person of no unit has no statement of their own, and
    ``load_calendar`` reads them when they are needed."""
    oidc_verifier = oidc.verifier() if oidc.looks_like_jwt(token) else None
    if oidc_verifier is not None:
        return _person_caller(session, oidc_verifier.verify(token), with_calendar)
    digest = hash_token(token)
    conn = session.connection()
    stmt = _LIVE_KEY_AND_CALENDAR[conn.dialect.name] if with_calendar else _LIVE_KEY
    row = conn.execute(stmt, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if with_calendar:
        use_overrides_json(session, row.calendar_overrides)
    return Caller(
        row.id, row.name, Role(row.role), row.unit_code, row.path, subject=f"key:{row.id}"
    )


def _person_caller(session: Session, person: oidc.Person, with_calendar: bool = False) -> Caller:
    claims = get_settings()
    if person.role is None or person.role not in Role.__members__:
        raise Forbidden(
            f"The token carries no usable {claims.oidc_role_claim} claim "
            "(admin, supervisor, unit or viewer)."
        )
    role = Role(person.role)
    unit_code = person.unit_code if role in UNIT_BOUND_ROLES else None
    if role == Role.unit and not unit_code:
        raise Forbidden(f"A unit role needs the {claims.oidc_unit_claim} claim naming the unit.")
    path = None
    if unit_code:
        conn = session.connection()
        stmt = _UNIT_PATH_AND_CALENDAR[conn.dialect.name] if with_calendar else _UNIT_PATH
        row = conn.execute(stmt, {"code": unit_code}).first()
        if row is None:
            raise Forbidden(f"The token's unit {unit_code!r} is not a unit of this service.")
        path = row.path
        if with_calendar:
            use_overrides_json(session, row.calendar_overrides)
    return Caller(None, person.name, role, unit_code, path, kind="person", subject=person.subject)


def with_unit_codes(session: Session, caller: Caller) -> Caller:
    """``caller`` with its subtree's unit codes resolved (unit-bound callers; others
    unchanged)."""
    if not caller.scoped or caller.unit_codes or not caller.unit_path:
        return caller
    codes = tuple(session.scalars(subtree_codes(caller.unit_path)))
    return replace(caller, unit_codes=codes)


def list_keys(session: Session) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(col(ApiKey.revoked_at).is_(None)).order_by(col(ApiKey.id))
        )
    )


def get_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id) if 0 < key_id < 2**31 else None
    if key is None or key.revoked_at is not None:
        raise NotFound(f"No key with id {key_id}.")
    return key


def revoke_key(session: Session, key_id: int) -> None:
    key = session.get(ApiKey, key_id, with_for_update=True) if 0 < key_id < 2**31 else None
    if key is None or key.revoked_at is not None:
        raise NotFound(f"No key with id {key_id}.")
    if key.role == Role.admin.value:
        admins = session.scalars(
            select(col(ApiKey.id))
            .where(col(ApiKey.role) == Role.admin.value, col(ApiKey.revoked_at).is_(None))
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
        select(col(ApiKey.id)).where(
            col(ApiKey.role) == Role.admin.value, col(ApiKey.revoked_at).is_(None)
        )
    )
    if exists is not None:
        return False
    if session.scalar(select(col(ApiKey.id)).where(col(ApiKey.token_hash) == hash_token(token))):
        return False
    create_key(session, ApiKeyCreate(name="bootstrap-admin", role=Role.admin), token=token)
    return True
