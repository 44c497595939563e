"""Ledger fixtures: a second empty database, and spreadsheet helpers."""

import io
import shutil
import uuid

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy.engine import make_url

from app.db import make_engine
from app.main import create_app
from tests.conftest import ADMIN_TOKEN, PG_URL, _pg_admin_conn
from tests.factories import Api

CLOCK = "2026-03-02T02:00:00Z"  # Monday, 10:00 in Asia/Shanghai
IGNORED_ON_IMPORT = (
    "编号",
    "创建时间",
    "销号时间",
    "整改进展",
    "最高督办级别",
    "是否逾期",
    "按期整改",
    "措施状态",
)


@pytest.fixture
def second_database(database_url, _templates, tmp_path):
    """Another freshly created database on the same backend as this test's."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "second.db"
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
def office(api):
    """Three units as an office's ledger names them (住建局 by its aliases too); a
    supervisor's key."""
    api.set_clock(CLOCK)
    api.unit("zjj", "市住房和城乡建设局")
    api.unit("jyj", "市教育局")
    api.unit("court", "市中级人民法院")
    api.patch("/units/zjj", json={"aliases": ["市住建局", "住建局"]}, expect=200)
    return api.key("supervisor")


@pytest.fixture
def second_api(settings_env, second_database):
    engine = make_engine(second_database)
    with TestClient(create_app(engine, migrate=False), raise_server_exceptions=False) as client:
        yield Api(client, ADMIN_TOKEN)
    engine.dispose()


def xlsx_bytes(rows: list[list], title_rows: list[str] | None = None) -> bytes:
    """A workbook as a spreadsheet program writes one (normal, not write-only)."""
    wb = Workbook()
    ws = wb.active
    for text in title_rows or []:
        ws.append([text])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_rows(content: bytes) -> list[list]:
    """The sheet's rows, each padded to the header's width (a read-only sheet
    leaves out a row's trailing empty cells)."""
    ws = load_workbook(io.BytesIO(content), read_only=True).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    width = len(rows[0]) if rows else 0
    return [r + [None] * (width - len(r)) for r in rows]


def comparable(rows: list[list]) -> list[tuple]:
    """Ledger rows without the columns an import cannot reproduce."""
    header = rows[0]
    keep = [i for i, name in enumerate(header) if name not in IGNORED_ON_IMPORT]
    return [tuple(r[i] for i in keep) for r in rows]


def upload(api: Api, content: bytes, filename: str = "台账.xlsx", token="admin", **params):
    files = {"file": (filename, content, "application/octet-stream")}
    return api.post("/items/import", files=files, token=token, params=params)
