"""Three ``rectify serve`` and three ``rectify db upgrade`` started at once on a fresh
PostgreSQL database all succeed: migrations run under an advisory lock.

(Without it, two processes both create ``alembic_version`` or both run 0001, and all
but one die with a unique violation or "relation already exists".)
"""

import pytest

from tests.conftest import ADMIN_TOKEN, PG_URL, pg_database
from tests.processes import clean_env, free_port, start, stop, wait_ready

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="needs PostgreSQL: set RECTIFY_TEST_DATABASE_URL (CI does)"
)


def test_three_servers_and_three_upgrades_at_once_on_a_fresh_database(tmp_path):
    with pg_database() as url:
        env = clean_env(
            RECTIFY_DATABASE_URL=url,
            RECTIFY_BOOTSTRAP_ADMIN_TOKEN=ADMIN_TOKEN,
            RECTIFY_EVIDENCE_DIR=str(tmp_path / "evidence"),
            RECTIFY_SCAN_INTERVAL_S="3600",
        )
        ports = [free_port() for _ in range(3)]
        servers, upgrades = [], []
        try:
            for i, port in enumerate(ports):
                servers.append(
                    start(["serve", "--port", str(port)], env, tmp_path, tmp_path / f"serve{i}.log")
                )
                upgrades.append(
                    start(["db", "upgrade"], env, tmp_path, tmp_path / f"upgrade{i}.log")
                )
            for i, proc in enumerate(upgrades):
                assert proc.wait(120) == 0, (tmp_path / f"upgrade{i}.log").read_text()
            for i, (port, proc) in enumerate(zip(ports, servers, strict=True)):
                try:
                    wait_ready(f"http://127.0.0.1:{port}", proc)
                except AssertionError:
                    raise AssertionError((tmp_path / f"serve{i}.log").read_text()) from None
        finally:
            statuses = [stop(proc) for proc in servers]
            for proc in upgrades:
                if proc.poll() is None:
                    proc.kill()
        assert statuses == [0, 0, 0]
