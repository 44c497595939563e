"""Migration 0007 upgrades a database populated at the previous head in place."""

from datetime import UTC, datetime

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine, insert

from app.db import make_engine
from app.items.history import GENESIS, compute_hash
from app.main import create_app
from app.migrate import alembic_config
from app.settings import PACKAGE_DIR
from app.workflow.definition import load_dir
from tests.conftest import ADMIN_TOKEN, _set_env
from tests.factories import Api
from tests.test_migrations import empty_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.db
AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _latest_rectification_version() -> int:
    """From the shipped files, not the process's registry (loaded only once an app starts)."""
    return max(v for name, v in load_dir(PACKAGE_DIR / "workflows") if name == "rectification")


def _populate_at_0006(url: str) -> int:
    """Units, a rectifying item with its hash chain, and its event, written with the
    tables as 0006 left them (reflected, not the models)."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    try:
        with engine.begin() as conn:
            for code, name in (("court", "市中级人民法院"), ("district", "某区人民政府")):
                conn.execute(
                    insert(t["unit"]).values(code=code, name=name, path=f"/{code}/", created_at=AT)
                )
            item_id = conn.execute(
                insert(t["item"])
                .values(
                    number="2026-000001",
                    title="执行案款发放不及时",
                    description="",
                    source="audit",
                    severity="normal",
                    unit_code="court",
                    state="rectifying",
                    review_pending=False,
                    workflow_name="rectification",
                    workflow_version=_latest_rectification_version(),
                    due_date=datetime(2026, 4, 30).date(),
                    light="green",
                    escalation_level=0,
                    ladder_fired=0,
                    version=3,
                    tags=[],
                    created_at=AT,
                    updated_at=AT,
                )
                .returning(t["item"].c.id)
            ).scalar_one()
            prev = GENESIS
            for seq, (action, frm, to) in enumerate(
                [
                    ("create", None, "found"),
                    ("assign", "found", "assigned"),
                    ("accept", "assigned", "rectifying"),
                ],
                start=1,
            ):
                row = {
                    "item_id": item_id,
                    "seq": seq,
                    "at": AT,
                    "actor": "supervisor:李娜",
                    "action": action,
                    "from_state": frm,
                    "to_state": to,
                    "comment": None,
                    "data": {},
                    "prev_hash": prev,
                }
                row["hash"] = prev = compute_hash(row)
                conn.execute(insert(t["history_entry"]).values(**row))
            conn.execute(t["item"].update().values(history_seq=3, history_hash=prev))
            conn.execute(
                insert(t["event"]).values(
                    event_id="evt_old",
                    type="item.assigned",
                    subject=f"items/{item_id}",
                    item_id=item_id,
                    unit_code="court",
                    time=AT,
                    data={},
                    dispatched=True,
                )
            )
    finally:
        engine.dispose()
    return item_id


def test_0007_upgrades_a_populated_database(empty_url, monkeypatch, tmp_path):  # noqa: F811
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0006")
    iid = _populate_at_0006(empty_url)
    command.upgrade(cfg, "head")  # 0007 and what came after it

    _set_env(monkeypatch, empty_url, tmp_path)
    engine = make_engine(empty_url)
    try:
        with TestClient(create_app(engine, migrate=False)) as client:
            api = Api(client, ADMIN_TOKEN)
            item = api.get(f"/items/{iid}", expect=200).json()
            assert item["co_unit_codes"] == [] and item["responsible_person"] is None
            assert item["measures_summary"] == {
                "total": 0,
                "open": 0,
                "done": 0,
                "ongoing": 0,
                "overdue": 0,
            }
            assert api.get(f"/items/{iid}/history/verify").json()["ok"] is True
            api.patch(f"/items/{iid}", json={"co_unit_codes": ["district"]}, expect=200)
            district = api.key("unit", "district")
            body = {
                "title": "建立案款台账",
                "kind": "deadline",
                "due_date": "2026-04-30",
                "unit_code": "district",
            }
            api.post(f"/items/{iid}/measures", json=body, expect=201)
            assert [i["id"] for i in api.get("/items", token=district).json()["data"]] == [iid]
            assert api.get(f"/items/{iid}/history/verify").json() == {
                "ok": True,
                "entries": 5,
                "broken_seq": None,
            }
            feed = api.get("/events", token=district).json()["data"]
            assert feed[0]["id"] == "evt_old" and feed[-1]["type"] == "measure.created"
    finally:
        engine.dispose()
    command.downgrade(cfg, "0006")
