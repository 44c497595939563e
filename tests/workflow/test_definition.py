"""Workflow files: validated at start-up, pinned per item, never edited in place."""

import shutil
from pathlib import Path

import pytest
import yaml

from app.db import unit_of_work
from app.settings import PACKAGE_DIR
from app.workflow.definition import Months, WorkflowError, load_dir, load_file
from app.workflow.models import WorkflowSnapshot
from app.workflow.registry import Registry

DEFAULT = PACKAGE_DIR / "workflows" / "rectification.yaml"


def write(tmp_path: Path, data: dict, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def default_data() -> dict:
    return yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))


def test_the_default_workflow_has_the_contract_states_and_actions():
    wf = load_file(DEFAULT)
    assert [s.name for s in wf.states] == ["found", "assigned", "rectifying", "verified", "closed"]
    assert {a.name for a in wf.actions} == {
        "assign",
        "accept",
        "return",
        "submit",
        "reject",
        "verify",
        "close",
        "withdraw",
        "reopen",
        "reassign",
        "urge",
    }
    assert wf.action("urge").stays  # 催办 leaves the item where it is
    assert [s.name for s in wf.ladder_for("rectify")] == [
        "reminder",
        "overdue",
        "supervise",
        "summon",
    ]
    assert [(s.name, s.offset) for s in wf.ladder_for("accept")] == [
        ("reminder", -1),
        ("overdue", 0),
    ]
    assert wf.sla.rectify_period("hotline") == 13 and wf.sla.accept_within == 3
    assert wf.sla.accept_period("hotline") == 1 and wf.sla.accept_period("audit") == 3
    assert wf.sla.rectify_period("inspection") == Months(months=2)


def test_a_single_ladder_means_both_kinds(tmp_path):
    data = default_data()
    data["ladder"] = data.pop("ladders")["rectify"]
    wf = load_file(write(tmp_path, data))
    assert wf.ladder_for("accept") == wf.ladder_for("rectify") == wf.ladder
    assert len(wf.ladder) == 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["actions"][0].update({"to": "nowhere"}), "unknown state 'nowhere'"),
        (lambda d: d["actions"][0].update({"roles": ["boss"]}), "unknown role 'boss'"),
        (lambda d: d["actions"][0].update({"guards": ["magic"]}), "unknown guard 'magic'"),
        (lambda d: d.update({"initial": "limbo"}), "initial state 'limbo'"),
        (lambda d: d["ladders"]["rectify"].reverse(), "ordered by offset"),
        (lambda d: d["sla"].update({"rectify_within": {"weeks": 2}}), "rectify_within"),
        (lambda d: d.pop("states"), "states"),
    ],
)
def test_a_bad_file_is_an_error_naming_the_file_and_the_problem(tmp_path, mutate, message):
    data = default_data()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(WorkflowError) as err:
        load_file(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_broken_yaml_and_empty_directory_are_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(WorkflowError, match="bad.yaml"):
        load_dir(tmp_path)
    with pytest.raises(WorkflowError, match="no workflow definitions"):
        load_dir(tmp_path / "missing")


def test_a_recorded_version_cannot_be_edited_in_place(engine, tmp_path):
    shutil.copy(DEFAULT, tmp_path / "rectification.yaml")
    with unit_of_work(engine=engine) as s:
        Registry().load(tmp_path, s)
    data = default_data()
    data["sla"]["accept_within"] = 5
    write(tmp_path, data, "rectification.yaml")
    with unit_of_work(engine=engine) as s, pytest.raises(WorkflowError, match="differs") as err:
        Registry().load(tmp_path, s)
    assert "new version number" in err.value.fix


def test_a_version_recorded_before_the_model_gained_fields_still_loads(engine, tmp_path):
    """A deployment upgraded from an older release recorded its definitions without
    the fields added since (sources, types, branches): that is not an edit."""
    shutil.copy(DEFAULT, tmp_path / "rectification.yaml")
    with unit_of_work(engine=engine) as s:
        Registry().load(tmp_path, s)
        snap = s.get(WorkflowSnapshot, ("rectification", 2))
        older = {k: v for k, v in snap.body.items() if k not in ("sources", "types")}
        older["actions"] = [
            {k: v for k, v in a.items() if k != "branches"} for a in older["actions"]
        ]
        snap.body = older
    with unit_of_work(engine=engine) as s:
        Registry().load(tmp_path, s)


def test_items_keep_their_version_when_a_new_one_replaces_the_file(api, engine, tmp_path):
    api.unit("court", "法院")
    old = api.item()
    assert old["workflow"] == {"name": "rectification", "version": 2}
    data = default_data()
    data["version"] = 3
    data["sla"]["accept_within"] = 5
    write(tmp_path, data, "rectification.yaml")
    from app.workflow.registry import registry

    with unit_of_work(engine=engine) as s:
        registry.load(tmp_path, s)  # v1 now lives only in the database snapshot
    try:
        assert api.item()["workflow"]["version"] == 3
        api.set_clock("2026-09-30T02:00:00Z")
        body = api.act(old["id"], "assign", unit_code="court", due_date="2026-12-31").json()
        assert body["accept_due_date"] == "2026-10-10"  # v2's 3 workdays, not v3's 5
        versions = api.get("/workflows/rectification?version=2", expect=200).json()
        assert versions["version"] == 2
    finally:
        with unit_of_work(engine=engine) as s:
            registry.load(PACKAGE_DIR / "workflows", s)


def test_workflow_endpoints(api):
    listed = api.get("/workflows", expect=200).json()["data"]
    assert [w["name"] for w in listed] == ["hotline", "rectification"]
    wf = api.get("/workflows/rectification", expect=200).json()
    assert wf["states"][0]["label"] == {"zh": "已发现", "en": "Found"}
    assert any(a["name"] == "assign" and a["from"] == ["found"] for a in wf["actions"])
    diagram = api.get("/workflows/rectification/diagram", expect=200)
    assert diagram.text.startswith("stateDiagram-v2")
    assert "found --> assigned : assign 交办" in diagram.text
    api.get("/workflows/nope", expect=404)
