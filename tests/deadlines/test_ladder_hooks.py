"""A ladder step that names a ``module:function`` hook: the worker calls it after
commit with the step's event."""

import asyncio

import yaml

from app.db import unit_of_work
from app.settings import PACKAGE_DIR
from app.webhooks.delivery import run_once
from app.workflow.registry import registry

CALLS: list[dict] = []


def summon_unit_head(envelope: dict) -> None:
    """Stands in for a deployment's hook (e.g. booking the admonishment talk 约谈)."""
    CALLS.append(envelope)


def test_a_ladder_hook_runs_after_commit_with_the_event(api, engine, tmp_path):
    data = yaml.safe_load((PACKAGE_DIR / "workflows" / "rectification.yaml").read_text("utf-8"))
    data["name"] = "hooked"
    data["ladders"]["accept"][1]["hook"] = f"{__name__}:summon_unit_head"
    (tmp_path / "rectification.yaml").write_text(
        (PACKAGE_DIR / "workflows" / "rectification.yaml").read_text("utf-8"), "utf-8"
    )
    (tmp_path / "hooked.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with unit_of_work(engine=engine) as s:
        registry.load(tmp_path, s)
    CALLS.clear()
    try:
        api.unit("court", "法院")
        api.set_clock("2026-10-12T02:00:00Z")
        iid = api.item(workflow="hooked")["id"]
        api.act(iid, "assign", unit_code="court", due_date="2026-10-30")
        api.set_clock("2026-10-15T16:00:00Z")  # accept deadline W(3, 10-12) = 10-15 passed
        assert api.post("/admin/scheduler/tick", expect=200).json()["fired"]["overdue"] == 1
        assert CALLS == []  # nothing runs inside the scan's transaction
        asyncio.run(run_once(engine))
        asyncio.run(run_once(engine))
        assert [c["type"] for c in CALLS] == ["item.overdue"]
        assert CALLS[0]["data"]["step"] == "overdue" and CALLS[0]["subject"] == f"items/{iid}"
    finally:
        with unit_of_work(engine=engine) as s:
            registry.load(PACKAGE_DIR / "workflows", s)
