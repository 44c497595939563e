from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.auth import service
from app.auth.models import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Me, Role
from app.deps import AdminDep, CallerDep, Id, SessionDep
from app.errors import problems
from app.links import location

router = APIRouter(tags=["auth"])


class KeyList(BaseModel):
    data: list[ApiKeyPublic]


@router.post("/keys", status_code=201, response_model=ApiKeyCreated)
def create_key(body: ApiKeyCreate, session: SessionDep, _admin: AdminDep, response: Response):
    key, token = service.create_key(session, body)
    response.headers.update(location(f"/keys/{key.id}"))
    return ApiKeyCreated(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        unit_code=key.unit_code,
        created_at=key.created_at,
        token=token,
    )


@router.get("/keys", response_model=KeyList)
def list_keys(session: SessionDep, _admin: AdminDep):
    return KeyList(
        data=[
            ApiKeyPublic.model_validate(k, from_attributes=True) for k in service.list_keys(session)
        ]
    )


@router.get("/keys/{key_id}", response_model=ApiKeyPublic)
def get_key(key_id: Id, session: SessionDep, _admin: AdminDep):
    return ApiKeyPublic.model_validate(service.get_key(session, key_id), from_attributes=True)


@router.delete("/keys/{key_id}", status_code=204, responses=problems(409))
def revoke_key(key_id: Id, session: SessionDep, _admin: AdminDep):
    service.revoke_key(session, key_id)
    return Response(status_code=204)


@router.get("/me", response_model=Me)
def me(caller: CallerDep):
    return Me(
        kind=caller.kind,
        name=caller.name,
        subject=caller.subject,
        role=caller.role,
        unit_code=caller.unit_code,
    )
