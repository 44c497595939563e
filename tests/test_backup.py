"""``rectify db backup`` / ``restore``: a consistent copy taken while the service writes."""

import hashlib
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from app.backup import backup
from app.db import make_engine, unit_of_work
from app.items import history
from app.items.models import Evidence, Item
from app.settings import get_settings
from tests.conftest import PG_URL
from tests.processes import clean_env, run

WRITES_AT_MOST = 300
sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _write_until(api, stop: threading.Event, made: list[int], errors: list) -> None:
    """Items, transitions and evidence, as fast as the API takes them, until ``stop``."""
    try:
        for n in range(WRITES_AT_MOST):
            if stop.is_set():
                return
            iid = api.item()["id"]
            api.evidence(iid, content=f"整改报告 {n}".encode())
            api.act(iid, "assign", unit_code="court")
            api.evidence(iid, content=f"整改凭证 {n}".encode(), filename="凭证.txt")
            made.append(iid)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def _settings(directory: Path) -> dict[str, str]:
    return {
        "RECTIFY_DATABASE_URL": f"sqlite:///{directory / 'rectify.db'}",
        "RECTIFY_EVIDENCE_DIR": str(directory / "evidence"),
    }


@sqlite
def test_a_backup_under_write_load_restores_into_a_fresh_directory(api, database_url, tmp_path):
    api.unit("court", "市中级人民法院")
    stop, made, errors = threading.Event(), [], []
    writer = threading.Thread(target=_write_until, args=(api, stop, made, errors))
    writer.start()
    try:
        while len(made) < 5 and writer.is_alive():
            stop.wait(0.05)
        env = clean_env(
            RECTIFY_DATABASE_URL=database_url,
            RECTIFY_EVIDENCE_DIR=str(get_settings().evidence_dir),
        )
        backed_up = run(["db", "backup", str(tmp_path / "backup")], env, tmp_path)
        during = len(made)
    finally:
        stop.set()
        writer.join(60)
    assert not errors, errors
    assert backed_up.returncode == 0, backed_up.stderr
    assert len(made) > during or during == WRITES_AT_MOST  # the writes went on meanwhile

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    restored = run(
        ["db", "restore", str(tmp_path / "backup")], clean_env(**_settings(fresh)), fresh
    )
    assert restored.returncode == 0, restored.stderr

    engine = make_engine(_settings(fresh)["RECTIFY_DATABASE_URL"])
    try:
        with unit_of_work(write=False, engine=engine) as session:
            items = list(session.scalars(select(Item)))
            files = list(session.scalars(select(Evidence)))
            broken = [item.id for item in items if not history.verify(session, item)[0]]
    finally:
        engine.dispose()
    assert len(items) >= 5 and broken == []
    assert len(files) >= 5
    for evidence in files:
        stored = fresh / "evidence" / evidence.sha256[:2] / evidence.sha256
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == evidence.sha256

    # a damaged backup is refused before anything is written
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    victim = next(name for name in manifest["files"] if name.startswith("evidence/"))
    (tmp_path / "backup" / victim).write_bytes(b"tampered")
    again = tmp_path / "again"
    again.mkdir()
    refused = run(["db", "restore", str(tmp_path / "backup")], clean_env(**_settings(again)), again)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert victim.split("/")[-1] in refused.stderr
    assert not (again / "evidence").exists() or not any((again / "evidence").iterdir())


@sqlite
def test_restore_refuses_a_deployment_that_holds_data(api, database_url, tmp_path):
    api.item()
    lines = list(backup(tmp_path / "backup"))
    assert lines[-1].startswith("backup complete")
    env = clean_env(
        RECTIFY_DATABASE_URL=database_url, RECTIFY_EVIDENCE_DIR=str(get_settings().evidence_dir)
    )
    refused = run(["db", "restore", str(tmp_path / "backup")], env, tmp_path)
    assert refused.returncode == 2 and "already holds data" in refused.stderr
    taken = run(["db", "backup", str(tmp_path / "backup")], env, tmp_path)
    assert taken.returncode == 2 and "new or empty directory" in taken.stderr


@pytest.mark.skipif(not PG_URL, reason="set RECTIFY_TEST_DATABASE_URL for PostgreSQL")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_the_backup_says_pg_dump_and_copies_the_evidence(api, tmp_path):
    iid = api.item()["id"]
    sha = api.evidence(iid, content=b"evidence on PostgreSQL").json()["sha256"]
    lines = list(backup(tmp_path / "backup"))
    assert "pg_dump" in lines[0]
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["database"] == "postgresql"
    assert set(manifest["files"]) == {f"evidence/{sha[:2]}/{sha}"}


@sqlite
def test_the_generated_history_key_is_backed_up_and_restored(api, database_url, tmp_path):
    """Without its key a restored deployment could not tell its histories were not rewritten."""
    key = "ab" * 32
    (tmp_path / "history.key").write_text(key + "\n")
    env = clean_env(
        RECTIFY_DATABASE_URL=database_url,
        RECTIFY_EVIDENCE_DIR=str(tmp_path / "evidence"),
        RECTIFY_HISTORY_KEY_FILE=str(tmp_path / "history.key"),
    )
    backed_up = run(["db", "backup", str(tmp_path / "backup")], env, tmp_path)
    assert backed_up.returncode == 0, backed_up.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert "history.key" in manifest["files"]
    assert (tmp_path / "backup" / "history.key").stat().st_mode & 0o777 == 0o600

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    settings = {**_settings(fresh), "RECTIFY_HISTORY_KEY_FILE": str(fresh / "history.key")}
    restored = run(["db", "restore", str(tmp_path / "backup")], clean_env(**settings), fresh)
    assert restored.returncode == 0, restored.stderr
    assert (fresh / "history.key").read_text().strip() == key
    assert (fresh / "history.key").stat().st_mode & 0o777 == 0o600  # the owner's alone
