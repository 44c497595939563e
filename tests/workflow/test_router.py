"""GET /workflows, /workflows/{name}, /workflows/{name}/diagram."""

import re

import pytest

from tests.factories import assert_problem


@pytest.fixture(scope="module")
def api(shared_api):
    return shared_api


def test_list_and_get_the_default_workflow(api):
    viewer = api.key("viewer")
    listed = api.get("/workflows", token=viewer, expect=200).json()["data"]
    assert "rectification" in {w["name"] for w in listed}
    wf = api.get("/workflows/rectification", token=viewer, expect=200).json()
    assert wf["name"] == "rectification" and wf["version"] >= 1 and wf["initial"] == "found"
    labels = {s["name"]: s["label"] for s in wf["states"]}
    assert labels["found"] == {"zh": "已发现", "en": "Found"}
    assert labels["closed"]["zh"] == "已销号"
    actions = {a["name"]: a for a in wf["actions"]}
    assert actions["verify"]["label"]["zh"] == "验收通过"
    assert actions["withdraw"]["from"] == ["found", "assigned"]
    assert wf["sla"]["accept_within"] == 3
    rectify = ["reminder", "overdue", "supervise", "summon"]
    assert [s["name"] for s in wf["ladders"]["rectify"]] == rectify
    assert [s["name"] for s in wf["ladders"]["accept"]] == ["reminder", "overdue"]
    assert wf["sla"]["rectify_within_by_source"]["inspection"] == {"months": 2}


def test_unknown_workflow_is_404(api):
    assert_problem(api.get("/workflows/nope"), 404)
    assert_problem(api.get("/workflows/nope/diagram"), 404)
    assert_problem(api.get("/workflows/rectification", params={"version": 99}), 404)


def test_diagram_is_mermaid_with_every_transition(api):
    r = api.get("/workflows/rectification/diagram", expect=200)
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert text.startswith("stateDiagram-v2")
    wf = api.get("/workflows/rectification").json()
    for action in wf["actions"]:
        for source in action["from"]:
            target = action["to"] or source  # no `to`: the item stays (催办)
            assert re.search(rf"^\s*{source} --> {target} : {action['name']}\b", text, re.M)
    assert "[*] --> found" in text


def test_workflows_need_a_token(api):
    assert_problem(api.client.get("/api/v1/workflows"), 401)
