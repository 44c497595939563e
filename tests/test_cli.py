"""The rectify command: db upgrade, keys create, tick."""

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.db import get_engine
from app.main import create_app
from app.settings import get_settings


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RECTIFY_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.delenv("RECTIFY_BOOTSTRAP_ADMIN_TOKEN", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


def test_db_upgrade_then_keys_create_prints_a_working_token(cli_env):
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "运维"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with TestClient(create_app(get_engine(), migrate=False)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json().items() >= {"name": "运维", "role": "admin", "unit_code": None}.items()


def test_keys_create_refuses_a_unit_key_without_its_unit(cli_env):
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "unit", "--name", "x"])
    assert result.exit_code != 0


def test_tick_runs_one_scan_and_prints_what_fired(cli_env):
    result = CliRunner().invoke(cli, ["tick"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    assert answer["checked"] == 0 and set(answer["fired"]) >= {"reminder", "overdue"}
