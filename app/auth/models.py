from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, stored_as_string


class Role(StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    unit = "unit"
    viewer = "viewer"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: int = Field(default=None, primary_key=True)  # None only until the first flush
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=stored_as_string(20))
    unit_code: str | None = Field(default=None, foreign_key="unit.code", max_length=64)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKeyCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    unit_code: str | None = Field(default=None, min_length=1, max_length=64)


class ApiKeyPublic(SQLModel):
    id: int
    name: str
    role: Role
    unit_code: str | None
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    token: str


class Me(SQLModel):
    kind: str = Field(description="key or person")
    name: str
    subject: str = Field(description="the person's subject at the identity provider, or key:<id>")
    role: Role
    unit_code: str | None
