import re
from datetime import datetime

from pydantic import ConfigDict, field_validator
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class UnitBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None = Field(default=None, foreign_key="unit.code", max_length=64)


class Unit(UnitBase, table=True):
    code: str = Field(primary_key=True, max_length=64)
    path: str = Field(index=True, max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)


class UnitAlias(SQLModel, table=True):
    """Another name a unit goes by in office ledgers (市住建局 for 市住房和城乡建设局)."""

    __tablename__ = "unit_alias"
    alias: str = Field(primary_key=True, max_length=200)
    unit_code: str = Field(foreign_key="unit.code", index=True, max_length=64)


class UnitCreate(UnitBase):
    code: str = Field(max_length=64)

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        # SQLModel's Field(regex=...) is not enforced under pydantic v2.
        if not re.fullmatch(CODE_PATTERN, v):
            raise ValueError("letters, digits, '_', '.', '-' (at most 64), starting alphanumeric")
        return v

    @field_validator("name")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()


class UnitUpdate(SQLModel):
    """What ``PATCH /units/{code}`` may change; any other field (``code``: a unit's code
    never changes) is refused, not silently ignored."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent_code: str | None = None
    aliases: list[str] | None = Field(default=None, max_length=50)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        cleaned = [a.strip() for a in v]
        if any(not a or len(a) > 200 for a in cleaned):
            raise ValueError("aliases must be 1..200 characters")
        return list(dict.fromkeys(cleaned))


class UnitPublic(SQLModel):
    code: str
    name: str
    parent_code: str | None
    aliases: list[str] = []
    created_at: datetime
