from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.deps import AdminDep, CallerDep, SessionDep
from app.errors import problems
from app.links import location
from app.units import service
from app.units.models import UnitCreate, UnitPublic, UnitUpdate

router = APIRouter(prefix="/units", tags=["units"])


class UnitList(BaseModel):
    data: list[UnitPublic]
    count: int


def _one(session, unit) -> UnitPublic:
    return service.unit_public(unit, service.aliases_of(session, [unit.code]))


@router.post("", status_code=201, response_model=UnitPublic, responses=problems(409))
def create_unit(body: UnitCreate, session: SessionDep, _admin: AdminDep, response: Response):
    unit = _one(session, service.create_unit(session, body))
    response.headers.update(location(f"/units/{unit.code}"))
    return unit


@router.get("", response_model=UnitList)
def list_units(session: SessionDep, _caller: CallerDep):
    units = service.list_units(session)
    aliases = service.aliases_of(session)
    return UnitList(data=[service.unit_public(u, aliases) for u in units], count=len(units))


@router.get("/{code}", response_model=UnitPublic)
def get_unit(code: str, session: SessionDep, _caller: CallerDep):
    return _one(session, service.get_unit(session, code))


@router.patch("/{code}", response_model=UnitPublic, responses=problems(409))
def update_unit(code: str, body: UnitUpdate, session: SessionDep, _admin: AdminDep):
    return _one(session, service.update_unit(session, code, body))
