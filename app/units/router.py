from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.deps import AdminDep, CallerDep, SessionDep
from app.links import location
from app.units import service
from app.units.models import UnitCreate, UnitPublic, UnitUpdate

router = APIRouter(prefix="/units", tags=["units"])


class UnitList(BaseModel):
    data: list[UnitPublic]
    count: int


@router.post("", status_code=201, response_model=UnitPublic)
def create_unit(body: UnitCreate, session: SessionDep, _admin: AdminDep, response: Response):
    unit = service.create_unit(session, body)
    response.headers.update(location(f"/units/{unit.code}"))
    return unit


@router.get("", response_model=UnitList)
def list_units(session: SessionDep, _caller: CallerDep):
    units = service.list_units(session)
    return UnitList(
        data=[UnitPublic.model_validate(u, from_attributes=True) for u in units], count=len(units)
    )


@router.get("/{code}", response_model=UnitPublic)
def get_unit(code: str, session: SessionDep, _caller: CallerDep):
    return service.get_unit(session, code)


@router.patch("/{code}", response_model=UnitPublic)
def update_unit(code: str, body: UnitUpdate, session: SessionDep, _admin: AdminDep):
    return service.update_unit(session, code, body)
