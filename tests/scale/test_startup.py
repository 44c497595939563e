"""Several processes starting at once on a fresh PostgreSQL database.

An operator's process manager starts all API and worker processes together.
Each runs ``app.main.prepare`` at start-up: it snapshots the workflow
definitions and creates the bootstrap admin key when none exists. Two such
transactions interleaved (the second reads before the first commits) must
both succeed; today the second dies with a unique violation, so that process
exits at start-up (seen in tests/scale: "api1 exited while starting:
UniqueViolation ... workflow_snapshot_pkey"). On SQLite the write lock taken
at BEGIN IMMEDIATE serializes them, hence PostgreSQL only.
"""

import threading
import time

from sqlalchemy import func, select, text
from sqlmodel import Session

from app.auth.models import ApiKey
from app.auth.service import ensure_bootstrap_admin
from app.settings import get_settings
from app.workflow.models import WorkflowSnapshot
from app.workflow.registry import Registry
from tests.conftest import ADMIN_TOKEN
from tests.scale.scenario import PG_ONLY

pytestmark = PG_ONLY
BLOCKED_WITHIN_S = 10.0


def _wait_until_blocked(engine) -> None:
    """Until a session of this database waits for a lock (or a bounded time passed)."""
    deadline = time.monotonic() + BLOCKED_WITHIN_S
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        while conn.execute(query).scalar() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)


def _interleaved(engine, step):
    """Run ``step(session)`` in two transactions as two processes starting at once do:
    the second starts after the first wrote and before it committed. The second's result."""
    first, second = Session(engine), Session(engine)
    outcome: dict = {}

    def run_second() -> None:
        try:
            outcome["value"] = step(second)
            second.commit()
        except Exception as exc:  # noqa: BLE001 - handed to the test below
            outcome["error"] = exc
            second.rollback()

    try:
        step(first)
        thread = threading.Thread(target=run_second)
        thread.start()
        _wait_until_blocked(engine)
        first.commit()
        thread.join(30)
        assert not thread.is_alive(), "the second start-up transaction hangs"
    finally:
        first.close()
        second.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_two_processes_starting_at_once_both_load_the_workflows(engine):
    directory = get_settings().workflows_dir
    _interleaved(engine, lambda s: Registry().load(directory, s))
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(WorkflowSnapshot)) >= 1


def test_two_processes_starting_at_once_both_ensure_the_bootstrap_admin(engine):
    _interleaved(engine, lambda s: ensure_bootstrap_admin(s, ADMIN_TOKEN))
    with Session(engine) as s:
        admins = s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.role == "admin"))
        assert admins == 1
