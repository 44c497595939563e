"""History anchored with a secret: someone who can write the database but lacks
the key cannot rewrite an item's newest entry and its stored head unseen."""

import logging

from alembic import command
from sqlalchemy import select, update
from sqlmodel import Session

from app.items.anchor import head_mac
from app.items.history import compute_hash
from app.items.models import HistoryEntry, Item
from app.migrate import alembic_config
from app.settings import get_settings


def _rewrite_newest_and_head(engine, item_id: int, comment: str) -> None:
    """What a forger with database access does: change the newest entry, recompute its
    hash, and move the item's head to it (and, lacking the key, guess at the anchor)."""
    with Session(engine) as session, session.begin():
        item = session.get(Item, item_id)
        entry = session.scalars(
            select(HistoryEntry).where(
                HistoryEntry.item_id == item_id, HistoryEntry.seq == item.history_seq
            )
        ).one()
        entry.comment = comment
        entry.hash = compute_hash(entry)
        session.execute(
            update(Item)
            .where(Item.id == item_id)
            .values(
                history_hash=entry.hash,
                history_mac=head_mac(b"a guessed key", item_id, entry.seq, entry.hash),
            )
        )


def test_a_rewritten_newest_entry_and_head_are_detected(live_api, engine):
    first = live_api.item(title="食堂账目不清")
    second = live_api.item(title="公车私用")
    live_api.patch(f"/items/{second['id']}", json={"description": "补充说明"}, expect=200)
    assert live_api.get("/admin/history/verify", expect=200).json() == {
        "items": 2,
        "ok": True,
        "broken": [],
    }
    _rewrite_newest_and_head(engine, second["id"], "伪造的说明")
    assert live_api.get("/admin/history/verify", expect=200).json() == {
        "items": 2,
        "ok": False,
        "broken": [second["id"]],
    }
    one = live_api.get(f"/items/{second['id']}/history/verify", expect=200).json()
    assert one["ok"] is False
    assert live_api.get(f"/items/{first['id']}/history/verify").json()["ok"] is True


def test_only_admins_verify_everything(live_api):
    token = live_api.key("supervisor")
    assert live_api.get("/admin/history/verify", token=token).status_code == 403
    assert live_api.get("/admin/history/verify", token=None).status_code == 401


def test_the_key_comes_from_the_setting_or_a_file_made_once(tmp_path, monkeypatch, caplog):
    from app.items import anchor

    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.delenv("RECTIFY_HISTORY_KEY", raising=False)
    get_settings.cache_clear()
    with caplog.at_level(logging.WARNING, logger="rectify.history"):
        key = anchor.history_key()
    assert (tmp_path / "history.key").read_text().strip().encode() == key
    assert (tmp_path / "history.key").stat().st_mode & 0o777 == 0o600
    assert "back it up" in caplog.text
    anchor._key_from_file.cache_clear()
    assert anchor.history_key() == key  # read back, not made again
    monkeypatch.setenv("RECTIFY_HISTORY_KEY", "k" * 40)
    get_settings.cache_clear()
    assert anchor.history_key() == b"k" * 40
    get_settings.cache_clear()


def test_migration_0008_anchors_existing_chains(database_url, settings_env, engine, live_api):
    item = live_api.item(title="迁移前的问题")
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "-1")
    command.upgrade(cfg, "head")
    with Session(engine) as session:
        row = session.get(Item, item["id"])
        assert row.history_mac
    assert live_api.get("/admin/history/verify").json() == {
        "items": 1,
        "ok": True,
        "broken": [],
    }
