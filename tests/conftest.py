"""Fixtures: a fresh database per test (SQLite, and PostgreSQL when configured).

The schema is built by the real migrations once per backend into a template
(a file for SQLite, a template database for PostgreSQL) and copied for each
test, so every test starts clean and fast and no test sees another's rows.
"""

import os
import shutil
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.settings import get_settings
from tests.factories import Api

PG_URL = os.environ.get("RECTIFY_TEST_DATABASE_URL")
ADMIN_TOKEN = "test-admin-token-0123456789"
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _pg_admin_conn():
    url = make_url(PG_URL)
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    )


@pytest.fixture(scope="session")
def _templates(tmp_path_factory):
    made = {}
    sqlite_tpl = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade(f"sqlite:///{sqlite_tpl}")
    made["sqlite"] = sqlite_tpl
    if PG_URL:
        name = f"rectify_tpl_{uuid.uuid4().hex[:10]}"
        with _pg_admin_conn() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        upgrade(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
        made["postgresql"] = name
    yield made
    if PG_URL:
        with _pg_admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request, _templates, tmp_path):
    """A freshly created database at schema head; dropped afterwards."""
    if request.param == "sqlite":
        path = tmp_path / "rectify.db"
        shutil.copy(_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    name = f"rectify_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgresql"]}"')
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with _pg_admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings_env(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("RECTIFY_DATABASE_URL", database_url)
    monkeypatch.setenv("RECTIFY_BOOTSTRAP_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.setenv("RECTIFY_TEST_CLOCK", "1")
    monkeypatch.setenv("RECTIFY_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def engine(settings_env, database_url):
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine):
    app = create_app(engine, migrate=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(client) -> Api:
    return Api(client, ADMIN_TOKEN)
