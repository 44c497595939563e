"""The migrations are the schema: they match the models, and data survives them."""

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, create_engine, insert, select, table
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table on the metadata)
from app.items.history import GENESIS, compute_hash
from app.items.models import HistoryEntry, Item
from app.migrate import alembic_config
from tests.conftest import BACKENDS, pg_database

pytestmark = pytest.mark.db


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    """A freshly created database with no schema at all; dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with pg_database() as url:
        yield url


def test_the_migrated_schema_matches_the_models(empty_url):
    command.upgrade(alembic_config(empty_url), "head")
    engine = create_engine(empty_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_migration_downgrades_and_upgrades_again(empty_url):
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")


def _history_row(item_id: int, seq: int, prev: str) -> dict:
    row = {
        "item_id": item_id,
        "seq": seq,
        "at": datetime(2026, 3, seq, 9, 0, tzinfo=UTC),
        "actor": "supervisor:李娜",
        "action": ["create", "assign", "accept"][seq - 1],
        "from_state": None,
        "to_state": "found",
        "comment": "整改",
        "data": {},
        "prev_hash": prev,
    }
    row["hash"] = compute_hash(row)
    return row


def test_0006_sets_each_items_history_head_from_its_newest_entry(empty_url):
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0005")
    engine = create_engine(empty_url)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    # the item table as it was before 0006 (the model already has the new columns)
    old_item = table(
        "item",
        *(column(c.name, c.type) for c in Item.__table__.c if not c.name.startswith("history_")),
    )
    item_row = {
        "title": "食堂账目不清",
        "source": "audit",
        "state": "found",
        "severity": "normal",
        "light": "none",
        "review_pending": False,
        "escalation_level": 0,
        "ladder_fired": 0,
        "version": 1,
        "description": "",
        "workflow_name": "rectification",
        "workflow_version": 1,
        "created_at": moment,
        "updated_at": moment,
        "tags": [],
    }
    try:
        with engine.begin() as conn:
            lived, fresh = (
                conn.execute(
                    insert(old_item).values(**item_row).returning(old_item.c.id)
                ).scalar_one()
                for _ in range(2)
            )
            prev = GENESIS
            for seq in (1, 2, 3):
                row = _history_row(lived, seq, prev)
                conn.execute(insert(HistoryEntry.__table__).values(**row))
                prev = row["hash"]
        command.upgrade(cfg, "0006")
        item = Item.__table__.c
        with engine.connect() as conn:
            heads = {
                r.id: (r.history_seq, r.history_hash)
                for r in conn.execute(select(item.id, item.history_seq, item.history_hash))
            }
    finally:
        engine.dispose()
    assert heads == {lived: (3, prev), fresh: (0, GENESIS)}


def test_0011_keeps_hotline_items_on_the_workflow_they_were_started_under(empty_url):
    """Hotline items created before the hotline workflow existed stay pinned to
    ``rectification`` with no order type, callback or duplicate."""
    cfg = alembic_config(empty_url)
    previous = ScriptDirectory.from_config(cfg).get_revision("0011").down_revision
    command.upgrade(cfg, previous)
    engine = create_engine(empty_url)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    new_columns = {"type", "satisfaction", "redo_count", "duplicate_of", "duplicate_count"}
    old_item = table("item", *(column(c.name, c.type) for c in Item.__table__.c))
    row = {
        "title": "12345：路灯不亮",
        "source": "hotline",
        "state": "rectifying",
        "severity": "normal",
        "light": "green",
        "review_pending": False,
        "escalation_level": 0,
        "ladder_fired": 0,
        "version": 3,
        "description": "",
        "workflow_name": "rectification",
        "workflow_version": 1,
        "created_at": moment,
        "updated_at": moment,
        "tags": [],
    }
    try:
        with engine.begin() as conn:
            iid = conn.execute(insert(old_item).values(**row).returning(old_item.c.id)).scalar_one()
        command.upgrade(cfg, "head")
        item = Item.__table__.c
        with engine.connect() as conn:
            got = conn.execute(select(Item.__table__).where(item.id == iid)).one()._mapping
    finally:
        engine.dispose()
    assert (got["workflow_name"], got["workflow_version"]) == ("rectification", 1)
    assert {k: got[k] for k in new_columns} == {
        "type": None,
        "satisfaction": None,
        "redo_count": 0,
        "duplicate_of": None,
        "duplicate_count": 0,
    }
