"""The state x action x role matrix of the default workflow, over HTTP.

Expectations come from the action table of API.md, written out below by hand
(never read from workflows/rectification.yaml), so a wrong YAML fails here.
"""

from dataclasses import dataclass

import pytest

from tests.factories import DUE, ITEM_STATES, assert_problem, make_world

# API.md, "Default workflow `rectification`". ``from`` names the test states of
# tests.factories.ITEM_STATES: ``rectifying`` has no closure request pending,
# ``review_pending`` is rectifying with one. The contract does not forbid a
# second ``submit`` while one is pending (the unit may resend its report).
SPEC = """
action   | from                               | to         | who        | requires
assign   | found                              | assigned   | supervisor | unit_code
accept   | assigned                           | rectifying | unit       |
return   | assigned                           | found      | unit       | comment
submit   | rectifying review_pending          | rectifying | unit       | comment
reject   | review_pending                     | rectifying | supervisor | comment
verify   | review_pending                     | verified   | supervisor |
close    | verified                           | closed     | supervisor |
withdraw | found assigned                     | closed     | supervisor | comment
reopen   | closed_rectified closed_withdrawn  | rectifying | supervisor | comment due_date
reassign | assigned rectifying review_pending | assigned   | supervisor | unit_code comment
urge     | assigned rectifying review_pending | =          | supervisor |
"""
# ``=``: the item stays in its state (催办).
# Fields of the item after the action succeeds (with FIELDS below).
THEN = {
    "assign": {"unit_code": "court", "review_pending": False},
    "accept": {"unit_code": "court", "review_pending": False},
    "return": {"unit_code": None, "due_date": None},
    "submit": {"review_pending": True},
    "reject": {"review_pending": False},
    "verify": {"review_pending": False},
    "close": {"resolution": "rectified", "review_pending": False},
    "withdraw": {"resolution": "withdrawn"},
    "reopen": {"resolution": None, "due_date": "2026-05-29", "closed_at": None},
    "reassign": {"unit_code": "district", "review_pending": False},
    "urge": {"unit_code": "court"},
}
ROLES = ("admin", "supervisor", "unit", "viewer")
STATE_NAME = {
    "review_pending": "rectifying",
    "closed_rectified": "closed",
    "closed_withdrawn": "closed",
}
# Items that have no responsible unit are outside every unit key's scope.
WITHOUT_UNIT = {"found"}
# A complete, valid set of fields for each action (what a front end would send).
FIELDS = {
    "assign": {"unit_code": "court", "due_date": DUE},
    "accept": {},
    "return": {"comment": "不属于本单位职责"},
    "submit": {"comment": "整改报告：已全部整改到位"},
    "reject": {"comment": "佐证材料不充分"},
    "verify": {"comment": "验收通过"},
    "close": {},
    "withdraw": {"comment": "重复立项"},
    "reopen": {"comment": "回头看发现反弹", "due_date": "2026-05-29"},
    "reassign": {"unit_code": "district", "comment": "职责调整"},
    "urge": {"comment": "请加快整改进度"},
}


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[str]
    to: str
    who: frozenset[str]
    requires: tuple[str, ...]
    then: dict


def _parse(table: str) -> dict[str, Action]:
    rows = [[c.strip() for c in line.split("|")] for line in table.strip().splitlines()[1:]]
    return {
        name: Action(
            name,
            frozenset(sources.split()),
            to,
            frozenset(who.split()),
            tuple(requires.split()),
            THEN[name],
        )
        for name, sources, to, who, requires in rows
    }


ACTIONS = _parse(SPEC)


def expected_status(state: str, action: str, role: str) -> int:
    spec = ACTIONS[action]
    if role == "unit" and state in WITHOUT_UNIT:
        return 404
    if role not in spec.who and not (role == "admin" and spec.who & {"supervisor", "unit"}):
        return 403
    if state not in spec.sources:
        return 409
    return 200


def allowed(state: str, role: str) -> set[str]:
    return {a for a in ACTIONS if expected_status(state, a, role) == 200}


def listed(state: str, role: str) -> set[str]:
    """What /actions shows: the role's actions from the item's workflow state, guards
    aside (a blocked one greyed with its reason), and 申请延期 for the unit."""
    here = STATE_NAME.get(state, state)
    shown = {
        a
        for a, spec in ACTIONS.items()
        if expected_status(state, a, role) != 403
        and here in {STATE_NAME.get(s, s) for s in spec.sources}
    }
    if role in ("admin", "unit") and here in ("assigned", "rectifying"):
        shown.add("request_extension")
    return shown


def test_the_table_names_every_action_of_the_workflow(shared_api):
    wf = shared_api.get("/workflows/rectification", expect=200).json()
    assert {a["name"] for a in wf["actions"]} == set(ACTIONS)
    assert {s["name"] for s in wf["states"]} == {STATE_NAME.get(s, s) for s in ITEM_STATES}


class Matrix:
    """The shared world of the module, plus one spare item per state for refusals."""

    def __init__(self, api) -> None:
        self.api = api
        self.world = make_world(api)
        self.tokens = {
            "admin": "admin",
            "supervisor": self.world.sup,
            "unit": self.world.unit,
            "viewer": self.world.viewer,
        }
        self._spare: dict[str, int] = {}

    def new_item(self, state: str) -> dict:
        return self.world.item_in(state)

    def item(self, state: str, *, fresh: bool) -> dict:
        """An item in ``state``; refusals change nothing, so they may share one."""
        if fresh:
            return self.new_item(state)
        if state not in self._spare:
            self._spare[state] = self.new_item(state)["id"]
        return self.api.get(f"/items/{self._spare[state]}", expect=200).json()

    def reread(self, item: dict) -> dict:
        """The item now; a changed spare is not handed out again."""
        after = self.api.get(f"/items/{item['id']}", expect=200).json()
        if after != item:
            self._spare = {s: i for s, i in self._spare.items() if i != item["id"]}
        return after


@pytest.fixture(scope="module")
def world(shared_api) -> Matrix:
    return Matrix(shared_api)


MATRIX = [
    pytest.param(state, action, role, id=f"{state}-{action}-{role}")
    for state in ITEM_STATES
    for action in ACTIONS
    for role in ROLES
]


@pytest.mark.parametrize(("state", "action", "role"), MATRIX)
def test_matrix(world, state, action, role):
    api, want = world.api, expected_status(state, action, role)
    item = world.item(state, fresh=want == 200)
    assert item["state"] == STATE_NAME.get(state, state)

    r = api.act(item["id"], action, world.tokens[role], expect=None, **FIELDS[action])

    if want != 200:
        after = world.reread(item)
        body = assert_problem(r, want)
        if want == 409:
            assert set(body["allowed_actions"]) == allowed(state, role), body
        assert after == item, "a refused action changed the item"
        return

    spec = ACTIONS[action]
    to = STATE_NAME.get(state, state) if spec.to == "=" else spec.to
    got = r.json()
    assert r.status_code == 200, r.text
    assert got["state"] == to
    assert got["version"] == item["version"] + 1
    assert r.headers["etag"] == f'"{got["version"]}"'
    for field, value in spec.then.items():
        assert got[field] == value, (field, got)
    last = api.history(item["id"])[-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (
        action,
        STATE_NAME.get(state, state),
        to,
    )
    assert last["comment"] == FIELDS[action].get("comment")


MISSING_FIELDS = [
    pytest.param(state, action, role, id=f"{state}-{action}-{role}")
    for state in ITEM_STATES
    for action, spec in ACTIONS.items()
    for role in ROLES
    if spec.requires and expected_status(state, action, role) == 200
]


@pytest.mark.parametrize(("state", "action", "role"), MISSING_FIELDS)
def test_missing_required_fields_are_422_naming_each(world, state, action, role):
    api = world.api
    item = world.item(state, fresh=False)
    sent = {k: v for k, v in FIELDS[action].items() if k not in ACTIONS[action].requires}

    r = api.act(item["id"], action, world.tokens[role], expect=None, **sent)

    after = world.reread(item)
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == set(ACTIONS[action].requires), body
    assert after == item


@pytest.mark.parametrize(
    ("state", "role"),
    [pytest.param(s, r, id=f"{s}-{r}") for s in ITEM_STATES for r in ROLES],
)
def test_actions_endpoint_lists_what_the_caller_may_do_now(world, state, role):
    item = world.item(state, fresh=False)
    r = world.api.get(f"/items/{item['id']}/actions", token=world.tokens[role], expect=None)
    if role == "unit" and state in WITHOUT_UNIT:
        assert_problem(r, 404)
        return
    assert r.status_code == 200, r.text
    actions = r.json()["actions"]
    assert {a["name"] for a in actions} == listed(state, role)
    enabled = {a["name"] for a in actions if a["enabled"]} - {"request_extension"}
    assert enabled == allowed(state, role)
    for a in actions:
        if a["name"] in ACTIONS:
            assert set(a["requires"]) == set(ACTIONS[a["name"]].requires)
        assert a["label"]
        assert (a["reason"] is None) == a["enabled"]
        assert a["enabled"] or any("\u4e00" <= ch <= "\u9fff" for ch in a["reason"])
