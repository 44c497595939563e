"""A real uvicorn server over this test's database (SQLite, and PostgreSQL when
configured), and an ``Api`` driving it over HTTP."""

import httpx
import pytest

from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.factories import Api
from tests.live import LiveServer


@pytest.fixture
def live(engine):
    with LiveServer(create_app(engine, migrate=False)) as server:
        yield server


@pytest.fixture
def live_api(live):
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield Api(client, ADMIN_TOKEN)
