"""Every refusal of the action table, and the item endpoints' preconditions.

The module shares one database per backend; each test builds its own items.
"""

from datetime import date, timedelta

import pytest

from tests.factories import DUE, TODAY, assert_problem, make_world


@pytest.fixture(scope="module")
def world(shared_api):
    return make_world(shared_api)


def fields_of(problem: dict) -> set[str]:
    return {e["field"] for e in problem["errors"]}


def unchanged(world, item: dict) -> None:
    assert world.api.get(f"/items/{item['id']}", expect=200).json() == item


# -- the action table ------------------------------------------------------------


@pytest.mark.parametrize("comment", [None, "", "   "])
def test_return_needs_a_comment(world, comment):
    item = world.item_in("assigned")
    r = world.api.act(item["id"], "return", world.unit, expect=None, comment=comment)
    assert fields_of(assert_problem(r, 422)) == {"comment"}
    unchanged(world, item)


def test_submit_needs_an_evidence_file(world):
    item = world.item_in("assigned")
    world.api.act(item["id"], "accept", world.unit)
    item = world.api.get(f"/items/{item['id']}", expect=200).json()

    r = world.api.act(item["id"], "submit", world.unit, expect=None, comment="已整改")

    problem = assert_problem(r, 422)
    assert fields_of(problem) == {"evidence"}
    unchanged(world, item)
    actions = world.api.get(f"/items/{item['id']}/actions", token=world.unit).json()["actions"]
    shown = {a["name"]: a for a in actions}
    assert "accept" not in shown
    assert shown["submit"]["enabled"] is False and "佐证材料" in shown["submit"]["reason"]


def test_a_resubmission_needs_evidence_uploaded_after_the_rejection(world):
    item = world.item_in("review_pending")  # its evidence predates the rejection
    iid = item["id"]
    world.api.act(iid, "reject", world.sup, comment="佐证材料不充分")
    r = world.api.act(iid, "submit", world.unit, expect=None, comment="再次申请")
    assert fields_of(assert_problem(r, 422)) == {"evidence"}
    actions = world.api.get(f"/items/{iid}/actions", token=world.unit).json()["actions"]
    submit = next(a for a in actions if a["name"] == "submit")
    assert submit["enabled"] is False and "新的佐证材料" in submit["reason"]
    world.api.evidence(iid, world.unit)
    actions = world.api.get(f"/items/{iid}/actions", token=world.unit).json()["actions"]
    assert next(a for a in actions if a["name"] == "submit")["enabled"] is True
    world.api.act(iid, "submit", world.unit, comment="已补充整改材料")


def test_a_reopened_item_needs_new_evidence_too(world):
    item = world.item_in("closed_rectified")
    iid = item["id"]
    world.api.act(iid, "reopen", world.sup, comment="回头看发现反弹", due_date=DUE)
    r = world.api.act(iid, "submit", world.unit, expect=None, comment="已整改")
    assert fields_of(assert_problem(r, 422)) == {"evidence"}
    world.api.evidence(iid, world.unit)
    world.api.act(iid, "submit", world.unit, comment="已整改")


def test_submit_needs_a_comment(world):
    item = world.item_in("rectifying")
    r = world.api.act(item["id"], "submit", world.unit, expect=None)
    assert fields_of(assert_problem(r, 422)) == {"comment"}
    unchanged(world, item)


@pytest.mark.parametrize("action", ["reject", "verify"])
def test_reject_and_verify_only_while_review_pending(world, action):
    item = world.item_in("rectifying")
    r = world.api.act(item["id"], action, world.sup, expect=None, comment="再看看")
    problem = assert_problem(r, 409)
    assert problem["allowed_actions"] == ["reassign", "urge"]
    unchanged(world, item)


def test_reopen_needs_a_comment_and_a_due_date(world):
    item = world.item_in("closed_rectified")
    r = world.api.act(item["id"], "reopen", world.sup, expect=None)
    assert fields_of(assert_problem(r, 422)) == {"comment", "due_date"}
    r = world.api.act(item["id"], "reopen", world.sup, expect=None, comment="回头看")
    assert fields_of(assert_problem(r, 422)) == {"due_date"}
    r = world.api.act(item["id"], "reopen", world.sup, expect=None, due_date=DUE)
    assert fields_of(assert_problem(r, 422)) == {"comment"}
    unchanged(world, item)


def test_reassign_needs_a_unit_code_and_a_comment(world):
    item = world.item_in("rectifying")
    r = world.api.act(item["id"], "reassign", world.sup, expect=None)
    assert fields_of(assert_problem(r, 422)) == {"unit_code", "comment"}
    r = world.api.act(item["id"], "reassign", world.sup, expect=None, unit_code="district")
    assert fields_of(assert_problem(r, 422)) == {"comment"}
    unchanged(world, item)


def test_assign_needs_a_unit_code(world):
    item = world.item_in("found")
    r = world.api.act(item["id"], "assign", world.sup, expect=None, due_date=DUE)
    assert fields_of(assert_problem(r, 422)) == {"unit_code"}
    unchanged(world, item)


@pytest.mark.parametrize(
    ("state", "action", "extra"),
    [("found", "assign", {}), ("rectifying", "reassign", {"comment": "改派"})],
)
def test_assigning_to_an_unknown_unit_is_422(world, state, action, extra):
    item = world.item_in(state)
    r = world.api.act(item["id"], action, world.sup, expect=None, unit_code="nowhere", **extra)
    assert fields_of(assert_problem(r, 422)) == {"unit_code"}
    unchanged(world, item)


@pytest.mark.parametrize(
    ("state", "action", "extra"),
    [
        ("found", "assign", {"unit_code": "court"}),
        ("rectifying", "reassign", {"unit_code": "district", "comment": "改派"}),
        ("closed_rectified", "reopen", {"comment": "回头看"}),
    ],
)
def test_a_due_date_in_the_past_is_422(world, state, action, extra):
    item = world.item_in(state)
    r = world.api.act(item["id"], action, world.sup, expect=None, due_date="2026-03-01", **extra)
    assert fields_of(assert_problem(r, 422)) == {"due_date"}
    unchanged(world, item)
    r = world.api.act(item["id"], action, world.sup, expect=None, due_date=TODAY, **extra)
    assert r.status_code == 200 and r.json()["due_date"] == TODAY, r.text


def test_assign_without_a_due_date_takes_the_workflow_default(world):
    item = world.item_in("found", source="hotline")
    got = world.api.act(item["id"], "assign", world.sup, unit_code="court").json()
    # hotline: W(13, 2026-03-02); no holidays in between -> 2026-03-19
    assert got["due_date"] == "2026-03-19"


def test_an_unknown_action_is_422(world):
    item = world.item_in("found")
    r = world.api.act(item["id"], "approve", world.sup, expect=None)
    assert fields_of(assert_problem(r, 422)) == {"action"}
    unchanged(world, item)


@pytest.mark.parametrize(
    ("state", "action", "body"),
    [
        ("assigned", "accept", {"unit_code": "district"}),
        ("assigned", "accept", {"due_date": DUE}),
        ("review_pending", "verify", {"unit_code": "court"}),
        ("assigned", "return", {"comment": "不属于本单位", "due_date": DUE}),
    ],
)
def test_a_field_the_action_does_not_take_is_422(world, state, action, body):
    item = world.item_in(state)
    token = world.unit if action in {"accept", "return"} else world.sup
    r = world.api.act(item["id"], action, token, expect=None, **body)
    extra = set(body) - {"comment"}
    assert fields_of(assert_problem(r, 422)) == extra
    unchanged(world, item)


def test_an_unknown_field_is_422(world):
    item = world.item_in("assigned")
    r = world.api.act(item["id"], "accept", world.unit, expect=None, priority="high")
    assert "priority" in fields_of(assert_problem(r, 422))
    unchanged(world, item)


# -- malformed requests ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/items"), ("POST", "/items/{id}/transitions"), ("PATCH", "/items/{id}")],
)
@pytest.mark.parametrize("raw", [b'{"action": "accept",', b"not json", b"{'a': 1}"])
def test_bad_json_is_400(world, method, path, raw):
    item = world.item_in("found")
    r = world.api.call(
        method,
        path.format(id=item["id"]),
        token=world.sup,
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, 400)
    unchanged(world, item)


@pytest.mark.parametrize("body", [[], "accept", 17, None])
def test_json_that_is_not_an_object_is_422(world, body):
    item = world.item_in("assigned")
    r = world.api.post(f"/items/{item['id']}/transitions", token=world.unit, json=body)
    assert_problem(r, 422)
    unchanged(world, item)


def test_unknown_item_is_404_and_a_non_numeric_id_too(world):
    assert_problem(world.api.get("/items/999999", token=world.sup), 404)
    assert_problem(world.api.act(999999, "accept", world.unit, expect=None), 404)
    assert_problem(world.api.get("/items/abc", token=world.sup), 404)


# -- ETag and If-Match ------------------------------------------------------------


def test_every_item_response_carries_its_version_as_etag(world):
    r = world.api.post("/items", token=world.sup, json={"title": "标题", "source": "audit"})
    assert r.status_code == 201 and r.headers["etag"] == f'"{r.json()["version"]}"'
    iid = r.json()["id"]
    r = world.api.get(f"/items/{iid}", token=world.viewer)
    assert r.headers["etag"] == '"1"'
    r = world.api.patch(f"/items/{iid}", token=world.sup, json={"category": "工程建设"})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' == f'"{r.json()["version"]}"'
    r = world.api.act(iid, "assign", world.sup, unit_code="court")
    assert r.headers["etag"] == '"3"' == f'"{r.json()["version"]}"'
    r = world.api.get(f"/items/{iid}", token=world.unit)
    assert r.headers["etag"] == '"3"'


@pytest.mark.parametrize("method", ["transition", "patch"])
def test_a_stale_if_match_is_412_and_a_current_one_passes(world, method):
    item = world.item_in("assigned")
    v = item["version"]

    def send(tag):
        headers = {"If-Match": tag}
        if method == "patch":
            return world.api.patch(
                f"/items/{item['id']}", token=world.sup, json={"title": "新标题"}, headers=headers
            )
        return world.api.post(
            f"/items/{item['id']}/transitions",
            token=world.unit,
            json={"action": "accept"},
            headers=headers,
        )

    for stale in (f'"{v - 1}"', f'"{v + 1}"', '"abc"'):
        assert_problem(send(stale), 412)
    unchanged(world, item)
    r = send(f'"{v}"')
    assert r.status_code == 200, r.text
    assert r.json()["version"] == v + 1
    assert_problem(send(f'"{v}"'), 412)


def test_the_items_other_mutations_take_if_match_too(world):
    """Evidence, extension requests and their decisions (API.md: "Mutations accept
    If-Match and answer 412 on a stale one")."""
    item = world.item_in("rectifying")
    base, v = f"/items/{item['id']}", item["version"]
    stale, current = {"If-Match": f'"{v - 1}"'}, {"If-Match": f'"{v}"'}
    files = {"file": ("整改报告.pdf", b"%PDF-1.4 report", "application/pdf")}
    for headers, status in ((stale, 412), (current, 201)):
        world.api.post(
            f"{base}/evidence", files=files, token=world.unit, headers=headers, expect=status
        )
    later = (date.fromisoformat(item["due_date"]) + timedelta(days=14)).isoformat()
    ask = {"due_date": later, "reason": "工程量大"}
    assert_problem(
        world.api.post(f"{base}/extensions", token=world.unit, json=ask, headers=stale), 412
    )
    ext = world.api.post(
        f"{base}/extensions", token=world.unit, json=ask, headers=current, expect=201
    ).json()
    approve = f"{base}/extensions/{ext['id']}/approve"
    assert_problem(world.api.post(approve, token=world.sup, json={}, headers=stale), 412)
    world.api.post(approve, token=world.sup, json={}, headers=current, expect=200)
    assert world.api.get(base, expect=200).json()["due_date"] == later


@pytest.mark.parametrize("tag", ["*", '"0", "{v}"'])
def test_if_match_accepts_star_and_lists(world, tag):
    item = world.item_in("assigned")
    r = world.api.post(
        f"/items/{item['id']}/transitions",
        token=world.unit,
        json={"action": "accept"},
        headers={"If-Match": tag.format(v=item["version"])},
    )
    assert r.status_code == 200, r.text


def test_if_match_compares_strongly_so_a_weak_tag_is_412(world):
    """RFC 9110 13.1.1: If-Match uses the strong comparison; ``W/"v"`` never matches
    (If-None-Match, a read's, compares weakly: ``W/"v"`` is a 304 there)."""
    item = world.item_in("assigned")
    weak = f'W/"{item["version"]}"'
    r = world.api.post(
        f"/items/{item['id']}/transitions",
        token=world.unit,
        json={"action": "accept"},
        headers={"If-Match": weak},
    )
    assert_problem(r, 412)
    unchanged(world, item)
    r = world.api.get(f"/items/{item['id']}", token=world.sup, headers={"If-None-Match": weak})
    assert r.status_code == 304


# -- PATCH ---------------------------------------------------------------------------


def test_patch_edits_the_allowed_fields(world):
    item = world.item_in("rectifying", campaign="2024-political-ecology")
    body = {
        "title": "新标题：工程款拖欠",
        "description": "描述已更新",
        "category": "工程建设",
        "severity": "high",
        "tags": ["重点", "工程"],
        "campaign": "2025-专项",
    }
    r = world.api.patch(f"/items/{item['id']}", token=world.sup, json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert {k: got[k] for k in body} == body
    assert got["version"] == item["version"] + 1 and got["state"] == "rectifying"
    assert world.api.get(f"/items/{item['id']}").json() == got
    last = world.api.history(item["id"])[-1]
    assert last["action"] == "edit"


def test_a_patch_that_changes_nothing_keeps_the_version(world):
    item = world.item_in("found")
    r = world.api.patch(f"/items/{item['id']}", token=world.sup, json={"title": item["title"]})
    assert r.status_code == 200 and r.json()["version"] == item["version"]


@pytest.mark.parametrize(
    "body",
    [
        {"state": "closed"},
        {"unit_code": "district"},
        {"version": 9},
        {"due_date": DUE},
        {"title": ""},
        {"title": "   "},
        {"title": None},
        {"severity": "urgent"},
        {"tags": [""]},
    ],
)
def test_patch_refuses_other_fields_and_bad_values(world, body):
    item = world.item_in("assigned")
    assert_problem(world.api.patch(f"/items/{item['id']}", token=world.sup, json=body), 422)
    unchanged(world, item)


@pytest.mark.parametrize("who", ["unit", "viewer"])
def test_only_admin_and_supervisor_may_patch(world, who):
    item = world.item_in("assigned")
    r = world.api.patch(f"/items/{item['id']}", token=getattr(world, who), json={"title": "x"})
    assert_problem(r, 403)
    unchanged(world, item)


# -- create and Idempotency-Key ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"source": "audit"},
        {"title": "标题"},
        {"title": "", "source": "audit"},
        {"title": "标题", "source": "newspaper"},
        {"title": "标题", "source": "audit", "severity": "urgent"},
        {"title": "标题", "source": "audit", "state": "closed"},
        {"title": "标题", "source": "audit", "workflow": "no-such-workflow"},
    ],
)
def test_create_refuses_invalid_bodies(world, body):
    assert_problem(world.api.post("/items", token=world.sup, json=body), 422)


def _count(world, **filters) -> int:
    data = world.api.get("/items", token=world.sup, params={"limit": 500, **filters}).json()
    return len(data["data"])


def test_the_same_idempotency_key_and_body_replays_the_first_response(world):
    body = {"title": "幂等：同一请求重发", "source": "petition", "campaign": "idem-1"}
    headers = {"Idempotency-Key": "req-7f3a"}
    first = world.api.post("/items", token=world.sup, json=body, headers=headers)
    again = world.api.post("/items", token=world.sup, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert _count(world, campaign="idem-1") == 1


def test_the_same_idempotency_key_with_another_body_is_422(world):
    headers = {"Idempotency-Key": "req-91c2"}
    body = {"title": "幂等：第一次", "source": "audit", "campaign": "idem-2"}
    world.api.post("/items", token=world.sup, json=body, headers=headers, expect=201)
    other = {**body, "title": "幂等：换了内容"}
    r = world.api.post("/items", token=world.sup, json=other, headers=headers)
    assert fields_of(assert_problem(r, 422)) == {"Idempotency-Key"}
    assert _count(world, campaign="idem-2") == 1


def test_without_an_idempotency_key_each_post_creates(world):
    body = {"title": "无幂等键", "source": "audit", "campaign": "idem-3"}
    world.api.post("/items", token=world.sup, json=body, expect=201)
    world.api.post("/items", token=world.sup, json=body, expect=201)
    assert _count(world, campaign="idem-3") == 2


# -- viewer and unit keys -------------------------------------------------------------


def test_viewer_reads_everything_and_changes_nothing(world):
    item = world.item_in("assigned")
    iid = item["id"]
    v = world.viewer
    assert world.api.get(f"/items/{iid}", token=v).status_code == 200
    assert world.api.get(f"/items/{iid}/history", token=v).status_code == 200
    assert world.api.get(f"/items/{iid}/actions", token=v).json() == {"actions": []}
    assert_problem(world.api.post("/items", token=v, json={"title": "x", "source": "audit"}), 403)
    assert_problem(world.api.act(iid, "accept", v, expect=None), 403)
    assert_problem(world.api.patch(f"/items/{iid}", token=v, json={"title": "x"}), 403)
    assert_problem(world.api.evidence(iid, v, expect=None), 403)
    unchanged(world, item)


def test_unit_keys_may_not_create_items(world):
    r = world.api.post("/items", token=world.unit, json={"title": "x", "source": "audit"})
    assert_problem(r, 403)


def test_a_withdrawn_never_assigned_item_cannot_be_reopened(api):
    iid = api.item()["id"]
    api.act(iid, "withdraw", comment="重复立项")
    r = api.act(iid, "reopen", expect=409, comment="回头看", due_date="2099-12-31")
    assert "before it was ever handed to a unit" in r.json()["detail"]


def test_the_last_admin_key_cannot_be_revoked(api):
    keys = api.get("/keys", expect=200).json()["data"]
    (admin,) = [k for k in keys if k["role"] == "admin"]
    api.call("DELETE", f"/keys/{admin['id']}", expect=409)
    api.key("admin")
    api.call("DELETE", f"/keys/{admin['id']}", expect=204)
