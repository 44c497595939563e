"""The migrations are the schema: they match the models, and data survives them."""

from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, column, create_engine, func, insert, select, table
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table on the metadata)
from app.items.history import GENESIS, compute_hash
from app.items.models import Evidence, HistoryEntry, Item
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


def _as_it_was(model_table, names: list[str]):
    """A table with only these columns (of the model's types): the schema before."""
    return table(model_table.name, *(column(k, model_table.c[k].type) for k in names))


def _entry(item_id: int, seq: int, action: str, day: int, data=None, actor="unit:court") -> dict:
    row = {
        "item_id": item_id,
        "seq": seq,
        "at": datetime(2026, 3, day, 2, 0, tzinfo=UTC),
        "actor": actor,
        "action": action,
        "from_state": "rectifying",
        "to_state": "rectifying",
        "comment": None,
        "data": data or {},
        "prev_hash": GENESIS,
    }
    row["hash"] = compute_hash(row)
    return row


def test_0010_backfills_the_honest_record_from_history(empty_url):
    cfg = alembic_config(empty_url)
    before = ScriptDirectory.from_config(cfg).get_revision("0010").down_revision
    command.upgrade(cfg, before)
    engine = create_engine(empty_url)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    closed = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    base = {
        "title": "食堂账目不清",
        "source": "audit",
        "severity": "normal",
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
        "due_date": date(2026, 3, 10),
        "light": "none",
    }
    done = {"state": "closed", "resolution": "rectified", "closed_at": closed}
    items = {
        "on_time": {**base, **done},
        "late": {**base, **done},
        "paused": {**base, "state": "rectifying", "review_pending": True, "light": "yellow"},
        "rejected": {**base, "state": "rectifying", "light": "green", "escalation_level": 1},
    }
    scheduler = "system:scheduler"
    try:
        with engine.begin() as conn:
            ids = {}
            for name, row in items.items():
                old = _as_it_was(Item.__table__, [*row, "id"])
                ids[name] = conn.execute(insert(old).values(**row).returning(old.c.id)).scalar_one()
            history = [
                _entry(ids["on_time"], 1, "submit", 9),
                _entry(
                    ids["late"], 1, "overdue", 11, {"deadline": "rectify", "level": 1}, scheduler
                ),
                _entry(ids["late"], 2, "escalate", 12, {"level": 2, "manual": True}, "sup"),
                _entry(ids["late"], 3, "extension_approved", 13, {"due_date": "2026-03-31"}),
                _entry(ids["late"], 4, "submit", 14),
                _entry(
                    ids["paused"], 1, "overdue", 3, {"deadline": "accept", "level": 1}, scheduler
                ),
                _entry(ids["paused"], 2, "submit", 9),
                _entry(ids["rejected"], 1, "submit", 5),
                _entry(ids["rejected"], 2, "reject", 6),
            ]
            conn.execute(insert(HistoryEntry.__table__), history)
            evidence = Evidence.__table__
            for day in (4, 6, 7):
                conn.execute(
                    insert(evidence).values(
                        item_id=ids["rejected"],
                        filename="a.pdf",
                        size=1,
                        sha256="0" * 64,
                        content_type="application/pdf",
                        uploaded_by="unit:court",
                        uploaded_at=datetime(2026, 3, day, 1, 0, tzinfo=UTC),
                    )
                )
            floor = conn.execute(
                select(func.max(evidence.c.id)).where(
                    evidence.c.uploaded_at < datetime(2026, 3, 7, tzinfo=UTC)
                )
            ).scalar_one()
        command.upgrade(cfg, "0010")
        item = Item.__table__.c
        picked = (item.max_escalation_level, item.was_overdue, item.on_time, item.light)
        with engine.connect() as conn:
            got = {
                r.id: tuple(r[1:])
                for r in conn.execute(select(item.id, *picked, item.evidence_floor))
            }
        command.downgrade(cfg, before)  # the older code knows no paused light
        with engine.connect() as conn:
            light, check = conn.execute(
                select(item.light, item.next_check_at).where(item.id == ids["paused"])
            ).one()
    finally:
        engine.dispose()
    assert light == "green" and check is not None
    assert got[ids["on_time"]] == (0, False, True, "none", 0)
    assert got[ids["late"]] == (2, True, False, "none", 0)
    assert got[ids["paused"]] == (1, True, None, "paused", 0)
    assert got[ids["rejected"]] == (1, False, None, "green", floor)


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


def _item_row(external_ref: str | None, number: str) -> dict:
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    return {
        "number": number,
        "title": "食堂账目不清",
        "source": "hotline",
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
        "external_ref": external_ref,
    }


def test_0012_refuses_to_make_external_ref_unique_over_duplicates_and_names_them(empty_url):
    cfg = alembic_config(empty_url)
    before = ScriptDirectory.from_config(cfg).get_revision("0012").down_revision
    command.upgrade(cfg, before)
    engine = create_engine(empty_url)
    rows = [
        _item_row("12345-0001", "2026-000001"),
        _item_row("12345-0001", "2026-000002"),
        _item_row("审计函〔2026〕3号", "2026-000003"),
        _item_row("审计函〔2026〕3号", "2026-000004"),
        _item_row("12345-0002", "2026-000005"),
        _item_row(None, "2026-000006"),
        _item_row(None, "2026-000007"),
    ]
    try:
        # the item table as it is at that revision (later columns do not exist yet)
        item = Table("item", MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(insert(item), rows)
        with pytest.raises(RuntimeError) as refused:
            command.upgrade(cfg, "0012")
        message = str(refused.value)
        assert "'12345-0001': items 2026-000001, 2026-000002" in message
        assert "'审计函〔2026〕3号': items 2026-000003, 2026-000004" in message
        assert "12345-0002" not in message and "Nothing was changed" in message
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == before
        with engine.begin() as conn:
            conn.execute(
                item.update()
                .where(item.c.number.in_(["2026-000002", "2026-000004"]))
                .values(external_ref=None)
            )
        command.upgrade(cfg, "0012")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(item), [_item_row("12345-0002", "2026-000008")])
    finally:
        engine.dispose()


def test_0015_keeps_each_items_newest_evidence_on_its_row(empty_url):
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0014_unit_keyset")
    engine = create_engine(empty_url)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    try:
        meta = MetaData()
        item = Table("item", meta, autoload_with=engine)
        evidence = Table("evidence", meta, autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(
                insert(item), [_item_row(None, "2026-000001"), _item_row(None, "2026-000002")]
            )
            with_files, without = conn.execute(select(item.c.id).order_by(item.c.id)).scalars()
            conn.execute(
                insert(evidence),
                [
                    {
                        "item_id": with_files,
                        "filename": f"整改报告{n}.pdf",
                        "size": 1,
                        "sha256": "0" * 64,
                        "content_type": "application/pdf",
                        "uploaded_at": moment,
                        "uploaded_by": "unit:court",
                    }
                    for n in range(3)
                ],
            )
            newest = conn.scalar(select(func.max(evidence.c.id)))
        command.upgrade(cfg, "0015_evidence_latest")
        with engine.connect() as conn:
            latest = dict(
                conn.execute(
                    select(column("id"), column("evidence_latest")).select_from(table("item"))
                ).all()
            )
        assert latest == {with_files: newest, without: 0}
        command.downgrade(cfg, "0014_unit_keyset")
    finally:
        engine.dispose()


def test_0016_counts_each_orders_satisfied_callbacks_from_its_history(empty_url):
    """An order called back dissatisfied, then satisfied, then (reopened) basically
    satisfied has two satisfied callbacks; one called back unreachable has none."""
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0015_evidence_latest")
    engine = create_engine(empty_url)
    try:
        meta = MetaData()
        item = Table("item", meta, autoload_with=engine)
        history = Table("history_entry", meta, autoload_with=engine)
        answers = {
            "2026-000001": ["dissatisfied", "satisfied", "basically_satisfied"],
            "2026-000002": ["unreachable"],
            "2026-000003": [],
        }
        with engine.begin() as conn:
            for number, said in answers.items():
                row = {**_item_row(None, number), "satisfaction": (said or [None])[-1]}
                item_id = conn.execute(insert(item).returning(item.c.id), row).scalar_one()
                conn.execute(
                    insert(history),
                    [
                        {
                            **_history_row(item_id, 1, GENESIS),
                            "action": "create",
                            "data": {"satisfaction": "satisfied"},  # not a callback
                        },
                        *(
                            {
                                **_history_row(item_id, 1, GENESIS),
                                "seq": seq,
                                "action": "callback",
                                "data": {"satisfaction": answer},
                            }
                            for seq, answer in enumerate(said, start=2)
                        ),
                    ],
                )
        command.upgrade(cfg, "0016_satisfied_callbacks")
        with engine.connect() as conn:
            counted = dict(
                conn.execute(
                    select(column("number"), column("satisfied_callbacks")).select_from(
                        table("item")
                    )
                ).all()
            )
        assert counted == {"2026-000001": 2, "2026-000002": 0, "2026-000003": 0}
        command.downgrade(cfg, "0015_evidence_latest")
    finally:
        engine.dispose()


def test_0017_writes_old_external_refs_in_their_canonical_form(empty_url):
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0016_satisfied_callbacks")
    engine = create_engine(empty_url)
    old = {
        "2026-000001": "ＨＸ-2026-０００１",  # full-width letters and digits
        "2026-000002": "HX\u20102026\u20100002",  # Unicode hyphens
        "2026-000003": "HX-2026-0003\u200b",  # a pasted zero-width space
        "2026-000004": "HX-2026-0004",  # canonical already
        "2026-000005": "\u200b",  # nothing but a format character
        "2026-000006": None,
    }
    try:
        item = Table("item", MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(insert(item), [_item_row(ref, number) for number, ref in old.items()])
        command.upgrade(cfg, "0017_canonical_external_refs")
        with engine.connect() as conn:
            refs = dict(conn.execute(select(item.c.number, item.c.external_ref)).all())
        assert refs == {
            "2026-000001": "HX-2026-0001",
            "2026-000002": "HX-2026-0002",
            "2026-000003": "HX-2026-0003",
            "2026-000004": "HX-2026-0004",
            "2026-000005": None,
            "2026-000006": None,
        }
        command.downgrade(cfg, "0016_satisfied_callbacks")
    finally:
        engine.dispose()


def test_0017_refuses_when_two_items_would_share_a_ref_and_names_them(empty_url):
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0016_satisfied_callbacks")
    engine = create_engine(empty_url)
    rows = [
        _item_row("12345-0001", "2026-000001"),  # holds the canonical form ...
        _item_row("12345\uff0d0001", "2026-000002"),  # ... which this one's becomes
        _item_row("１２３４５-0002", "2026-000003"),  # two old forms of one ref
        _item_row("12345-0002\u200b", "2026-000004"),
        _item_row("１２３４５-0003", "2026-000005"),  # free: would move, but nothing does
    ]
    try:
        item = Table("item", MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(insert(item), rows)
        with pytest.raises(RuntimeError) as refused:
            command.upgrade(cfg, "0017_canonical_external_refs")
        message = str(refused.value)
        assert "'12345-0001': items 2026-000001 ('12345-0001'), 2026-000002" in message
        assert "'12345-0002': items 2026-000003" in message and "2026-000004" in message
        assert "2026-000005" not in message and "Nothing was changed" in message
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == (
                "0016_satisfied_callbacks"
            )
            assert conn.scalar(
                select(item.c.external_ref).where(item.c.number == "2026-000005")
            ) == ("１２３４５-0003")
    finally:
        engine.dispose()
