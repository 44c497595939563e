"""Fixtures: a fresh database per test (SQLite, and PostgreSQL when configured).

The schema is built by the real migrations once per backend into a template
(a file for SQLite, a template database for PostgreSQL) and copied for each
test, so every test starts clean and fast and no test sees another's rows.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.settings import get_settings
from tests.factories import Api

pytest_plugins = ["tests.browser"]  # chromium, browser_page, page_origin
PG_URL = os.environ.get("RECTIFY_TEST_DATABASE_URL")
# One history key for the whole run, so that no test (a migration run from the repo
# directory above all) writes a key file; tests/hostile covers the generated file.
os.environ.setdefault("RECTIFY_HISTORY_KEY", "test-history-key-0123456789abcdef0123456789")
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
        _discard_ready(made["postgresql"])  # a copy being made holds the template
        with _pg_admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)')


_DROPPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-db")
_DROPS: list[Future] = []
"""Databases being dropped: a DROP DATABASE waits for a checkpoint (50-100 ms), which
the next test need not wait for. All are gone when the session ends."""


def _drop_pg(name: str) -> None:
    with _pg_admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create_pg(template: str | None = None) -> str:
    name = f"rectify_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


_MAKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="make-test-db")
_READY: dict[str, Future] = {}
"""The next copy of each template, being made while the current test runs: the copy
is the database server's work (70 ms of its CPU, more under load), which need not
keep the test process waiting. One a worker process; dropped if no test takes it."""


def _copy_of(template: str) -> str:
    made = _READY.pop(template, None) or _MAKER.submit(_create_pg, template)
    _READY[template] = _MAKER.submit(_create_pg, template)
    return made.result()


def _discard_ready(template: str) -> None:
    made = _READY.pop(template, None)
    if made is not None:
        _DROPS.append(_DROPPER.submit(_drop_pg, made.result()))


def pytest_sessionfinish(session, exitstatus) -> None:
    for template in list(_READY):
        _discard_ready(template)
    for drop in _DROPS:
        drop.result()


@contextmanager
def pg_database(template: str | None = None) -> Iterator[str]:
    """A freshly created PostgreSQL database, a copy of ``template`` or empty (its URL);
    dropped afterwards (in the background: ``_DROPS``)."""
    name = _copy_of(template) if template else _create_pg()
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _DROPS.append(_DROPPER.submit(_drop_pg, name))


@contextmanager
def _fresh_database(backend: str, templates: dict, directory: Path) -> Iterator[str]:
    """A freshly created database at schema head (its URL); dropped afterwards."""
    if backend == "sqlite":
        path = directory / "rectify.db"
        shutil.copy(templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    with pg_database(template=templates["postgresql"]) as url:
        yield url


def _set_env(mp: pytest.MonkeyPatch, database_url: str, directory: Path) -> None:
    mp.setenv("RECTIFY_DATABASE_URL", database_url)
    mp.setenv("RECTIFY_BOOTSTRAP_ADMIN_TOKEN", ADMIN_TOKEN)
    mp.setenv("RECTIFY_EVIDENCE_DIR", str(directory / "evidence"))
    mp.setenv("RECTIFY_TEST_CLOCK", "1")
    mp.setenv("RECTIFY_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()


@pytest.fixture(params=BACKENDS)
def database_url(request, _templates, tmp_path):
    """A freshly created database at schema head; dropped afterwards."""
    with _fresh_database(request.param, _templates, tmp_path) as url:
        yield url


@pytest.fixture
def settings_env(monkeypatch, tmp_path, database_url):
    _set_env(monkeypatch, database_url, tmp_path)
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


@pytest.fixture(scope="module", params=BACKENDS)
def shared_api(request, _templates, tmp_path_factory) -> Iterator[Api]:
    """One database and app for a whole module, per backend.

    For modules whose tests each build their own items, units and keys (the
    state x action x role matrix above all): a fresh database per case would
    cost more than the cases, on PostgreSQL most of all. Tests that change
    shared things (the clock, settings) or need an empty database use ``api``.
    """
    directory = tmp_path_factory.mktemp("shared")
    with (
        pytest.MonkeyPatch.context() as mp,
        _fresh_database(request.param, _templates, directory) as url,
    ):
        _set_env(mp, url, directory)
        eng = make_engine(url)
        try:
            with TestClient(create_app(eng, migrate=False), raise_server_exceptions=False) as c:
                yield Api(c, ADMIN_TOKEN)
        finally:
            eng.dispose()
            get_settings.cache_clear()
