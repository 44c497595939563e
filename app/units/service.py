"""Unit rules: codes are unique, the hierarchy is a tree (no cycles)."""

from sqlalchemy import String, delete, func, insert, literal, select, update
from sqlmodel import Session, col

from app.clock import now
from app.errors import Conflict, NotFound, field_error
from app.units.models import Unit, UnitAlias, UnitCreate, UnitPublic, UnitUpdate


def get_unit(session: Session, code: str) -> Unit:
    unit = session.get(Unit, code)
    if unit is None:
        raise NotFound(f"No unit with code {code!r}.")
    return unit


def _parent_path(session: Session, parent_code: str | None) -> str:
    if parent_code is None:
        return "/"
    parent = session.get(Unit, parent_code)
    if parent is None:
        raise field_error("parent_code", f"No unit with code {parent_code!r}.")
    return parent.path


def create_unit(session: Session, data: UnitCreate) -> Unit:
    if session.get(Unit, data.code) is not None:
        raise Conflict(f"A unit with code {data.code!r} already exists.")
    _refuse_others_aliases(session, data.code, {"code": data.code, "name": data.name})
    path = _parent_path(session, data.parent_code) + data.code + "/"
    unit = Unit(
        code=data.code,
        name=data.name,
        parent_code=data.parent_code,
        path=path,
        created_at=now(session),
    )
    session.add(unit)
    session.flush()
    return unit


def update_unit(session: Session, code: str, data: UnitUpdate) -> Unit:
    unit = get_unit(session, code)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        _refuse_others_aliases(session, code, {"name": changes["name"].strip()})
        unit.name = changes["name"].strip()
    if changes.get("aliases") is not None:
        _set_aliases(session, unit.code, changes["aliases"])
    if "parent_code" in changes and changes["parent_code"] != unit.parent_code:
        new_parent = changes["parent_code"]
        new_path = _parent_path(session, new_parent) + unit.code + "/"
        if new_path.startswith(unit.path):
            raise field_error("parent_code", "A unit cannot be moved under itself.")
        old_path = unit.path
        session.execute(
            update(Unit)
            .where(col(Unit.path).startswith(old_path, autoescape=True))
            .values(
                path=literal(new_path, String).concat(func.substr(Unit.path, len(old_path) + 1))
            )
            .execution_options(synchronize_session=False)
        )
        session.expire(unit)
        unit.parent_code = new_parent
    session.flush()
    session.refresh(unit)
    return unit


def _refuse_others_aliases(session: Session, code: str, fields: dict[str, str]) -> None:
    """409 when a unit's code or name is another unit's alias: a ledger's 责任单位 is
    matched by code and name before aliases, so the alias would silently stop working."""
    taken = session.execute(
        select(col(UnitAlias.alias), col(UnitAlias.unit_code)).where(
            col(UnitAlias.alias).in_(list(fields.values())), col(UnitAlias.unit_code) != code
        )
    ).all()
    if taken:
        errors = [
            {"field": field, "message": f"{alias} is an alias of {owner}"}
            for alias, owner in taken
            for field, value in fields.items()
            if value == alias
        ]
        names = "、".join(f"{alias} ({owner})" for alias, owner in taken)
        raise Conflict(f"Aliases of other units: {names}.", errors=errors)


def _set_aliases(session: Session, code: str, aliases: list[str]) -> None:
    """Replace the unit's aliases. 409 for an alias another unit already has, or that is
    another unit's code or exact name (a ledger matches those first: the alias would
    never name this unit)."""
    named = session.execute(
        select(col(Unit.code), col(Unit.name)).where(
            (col(Unit.code).in_(aliases) | col(Unit.name).in_(aliases)), col(Unit.code) != code
        )
    ).all()
    if named:
        clashes = [
            (alias, f"the {what} of {other}")
            for other, name in named
            for alias, what in ((other, "code"), (name, "name"))
            if alias in aliases
        ]
        raise Conflict(
            "Aliases that are another unit's code or name: "
            + "、".join(f"{alias} ({why})" for alias, why in clashes)
            + ".",
            errors=[{"field": "aliases", "message": f"{a} is {why}"} for a, why in clashes],
        )
    taken = session.execute(
        select(col(UnitAlias.alias), col(UnitAlias.unit_code)).where(
            col(UnitAlias.alias).in_(aliases), col(UnitAlias.unit_code) != code
        )
    ).all()
    if taken:
        names = "、".join(f"{alias} ({owner})" for alias, owner in taken)
        raise Conflict(
            f"These aliases belong to other units already: {names}.",
            errors=[{"field": "aliases", "message": f"{a} is an alias of {o}"} for a, o in taken],
        )
    session.execute(delete(UnitAlias).where(col(UnitAlias.unit_code) == code))
    if aliases:
        session.execute(insert(UnitAlias), [{"alias": a, "unit_code": code} for a in aliases])


def aliases_of(session: Session, codes: list[str] | None = None) -> dict[str, list[str]]:
    """Each unit's aliases (of ``codes``, or of every unit)."""
    stmt = select(col(UnitAlias.unit_code), col(UnitAlias.alias)).order_by(col(UnitAlias.alias))
    if codes is not None:
        stmt = stmt.where(col(UnitAlias.unit_code).in_(codes))
    found: dict[str, list[str]] = {}
    for code, alias in session.execute(stmt):
        found.setdefault(code, []).append(alias)
    return found


def unit_public(unit: Unit, aliases: dict[str, list[str]]) -> UnitPublic:
    return UnitPublic(
        code=unit.code,
        name=unit.name,
        parent_code=unit.parent_code,
        aliases=aliases.get(unit.code, []),
        created_at=unit.created_at,
    )


def subtree_codes(unit_path: str):
    """A SELECT of the codes of the unit at ``unit_path`` and all its descendants."""
    return subtree_codes_like(subtree_pattern(unit_path))


LIKE_ESCAPE = "!"


def subtree_pattern(unit_path: str) -> str:
    """The LIKE pattern for ``unit_path`` and every path below it (for ``subtree_codes_like``)."""
    escaped = unit_path.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return escaped + "%"


def subtree_codes_like(pattern):
    """A SELECT of the unit codes whose path matches ``pattern`` (a ``subtree_pattern``,
    usually a bind parameter, so the statement can be built once)."""
    return select(col(Unit.code)).where(col(Unit.path).like(pattern, escape=LIKE_ESCAPE))


def subtree_code_list(session: Session, code: str) -> list[str]:
    """The codes of unit ``code`` and its descendants ([] for an unknown unit): a literal
    list, which lets the planner use the item indexes that start with ``unit_code``."""
    path = session.scalar(select(col(Unit.path)).where(col(Unit.code) == code))
    return list(session.scalars(subtree_codes(path))) if path else []


def list_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.path)))
