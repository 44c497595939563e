"""Enum fields are typed in Python and stored as plain strings: the same VARCHAR
columns and values as before they were enums, so no database enum type and no
migration, and the API shows the same JSON strings."""

import enum

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel

import app.main  # noqa: F401  (every table registered on the metadata)
from app.auth.models import ApiKey, Role
from app.items.models import Item, Light, Severity, Source


def test_no_column_is_a_database_enum():
    enum_columns = [
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.Enum)
    ]
    assert enum_columns == []


def test_every_enum_field_of_a_table_is_a_sized_string_column():
    checked = 0
    for mapper in SQLModel._sa_registry.mappers:
        model = mapper.class_
        for name, info in model.model_fields.items():
            kind = info.annotation
            members = [a for a in getattr(kind, "__args__", (kind,)) if a is not type(None)]
            if not any(isinstance(m, type) and issubclass(m, enum.Enum) for m in members):
                continue
            column = mapper.local_table.columns[name]
            ddl = column.type.compile(dialect=postgresql.dialect())
            assert ddl.startswith("VARCHAR("), f"{model.__name__}.{name} is {ddl}"
            checked += 1
    assert checked >= 8  # source, severity, light, satisfaction, role, statuses, kind


@pytest.mark.db
def test_rows_hold_the_values_and_read_back_equal_to_the_members(api):
    created = api.item(source="hotline", severity="high")
    api.key("supervisor")
    with api.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT source, severity, light FROM item WHERE id = :id"),
            {"id": created["id"]},
        ).one()
        roles = set(conn.execute(sa.text("SELECT role FROM api_key")).scalars())
    assert tuple(row) == ("hotline", "high", "none")
    assert "supervisor" in roles
    assert (created["source"], created["severity"], created["light"]) == ("hotline", "high", "none")
    with Session(api.engine) as session:
        item = session.get_one(Item, created["id"])
        assert (item.source, item.severity, item.light) == (
            Source.hotline,
            Severity.high,
            Light.none,
        )
        keys = session.scalars(sa.select(ApiKey).where(ApiKey.role == Role.supervisor)).all()
        assert len(keys) == 1
