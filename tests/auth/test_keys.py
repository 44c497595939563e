"""API keys: bearer tokens, roles, /me, /keys.

The module shares one database per backend; each test makes its own keys.
"""

import pytest

from tests.factories import assert_problem


@pytest.fixture(scope="module")
def api(shared_api):
    shared_api.unit("court", "市中级人民法院")
    return shared_api


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer rk_unknown", "Basic YWRtaW46YWRtaW4=", "rk_x"],
)
def test_no_or_unknown_token_is_401(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ("/me", "/items", "/units", "/workflows"):
        r = api.client.get("/api/v1" + path, headers=headers)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer rk_unknown"])
@pytest.mark.parametrize("body", [{"action": "accept"}, {"acton": 1}, b"not json", None])
def test_a_transition_without_a_valid_token_is_401_whatever_its_body(api, authorization, body):
    """Transitions authenticate and parse their body in one worker-thread call
    (deps.in_unit_of_work): the token is still checked before the body is looked at."""
    item = api.item()
    headers = {} if authorization is None else {"Authorization": authorization}
    path = f"/api/v1/items/{item['id']}/transitions"
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/json"
        r = api.client.post(path, content=body, headers=headers)
    else:
        r = api.client.post(path, json=body, headers=headers)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    ("role", "unit_code"),
    [
        ("admin", None),
        ("supervisor", None),
        ("unit", "court"),
        ("viewer", None),
        ("viewer", "court"),
    ],
)
def test_me_tells_who_is_calling(api, role, unit_code):
    r = api.post("/keys", json={"name": f"{role} 张三", "role": role, "unit_code": unit_code})
    assert r.status_code == 201, r.text
    key = r.json()
    assert r.headers["location"] == f"/api/v1/keys/{key['id']}"
    assert (
        api.get(r.headers["location"].removeprefix("/api/v1"), expect=200).json()["name"]
        == f"{role} 张三"
    )
    got = api.get("/me", token=key["token"], expect=200).json()
    assert got == {
        "kind": "key",
        "name": f"{role} 张三",
        "subject": f"key:{key['id']}",
        "role": role,
        "unit_code": unit_code,
    }


def test_keys_crud_shows_the_token_once(api):
    r = api.post("/keys", json={"name": "法院对接系统", "role": "unit", "unit_code": "court"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert {"id", "name", "role", "unit_code", "token"} <= created.keys()
    assert (created["name"], created["role"], created["unit_code"]) == (
        "法院对接系统",
        "unit",
        "court",
    )
    token = created["token"]
    assert len(token) >= 32

    listed = api.get("/keys", expect=200).json()["data"]
    mine = [k for k in listed if k["id"] == created["id"]]
    assert len(mine) == 1 and "token" not in mine[0] and "token_hash" not in mine[0]
    assert mine[0]["name"] == "法院对接系统"
    assert token not in api.get("/keys").text
    assert api.get("/me", token=token, expect=200).json()["role"] == "unit"

    assert api.delete(f"/keys/{created['id']}").status_code == 204
    assert_problem(api.get("/me", token=token), 401)
    assert created["id"] not in {k["id"] for k in api.get("/keys", expect=200).json()["data"]}
    assert_problem(api.delete(f"/keys/{created['id']}"), 404)
    assert_problem(api.delete("/keys/999999"), 404)


def test_a_revoked_key_cannot_act(api):
    created = api.post("/keys", json={"name": "离职人员", "role": "supervisor"}, expect=201).json()
    token = created["token"]
    item = api.item(token)
    api.delete(f"/keys/{created['id']}")
    assert_problem(api.get(f"/items/{item['id']}", token=token), 401)
    assert_problem(api.post("/items", token=token, json={"title": "x", "source": "audit"}), 401)
    r = api.post(f"/items/{item['id']}/transitions", token=token, json={"action": "withdraw"})
    assert_problem(r, 401)
    assert api.get(f"/items/{item['id']}", expect=200).json()["state"] == "found"


@pytest.mark.parametrize("role", ["supervisor", "unit", "viewer"])
def test_only_admin_manages_keys(api, role):
    token = api.key(role, "court" if role == "unit" else None)
    body = {"name": "x", "role": "admin"}
    assert_problem(api.post("/keys", token=token, json=body), 403)
    assert_problem(api.get("/keys", token=token), 403)
    assert_problem(api.delete("/keys/1", token=token), 403)
    assert api.get("/me", expect=200).json()["role"] == "admin"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "u", "role": "unit"},
        {"name": "u", "role": "unit", "unit_code": "nowhere"},
        {"name": "s", "role": "supervisor", "unit_code": "court"},
        {"name": "x", "role": "root"},
        {"name": "", "role": "viewer"},
        {"role": "viewer"},
    ],
)
def test_invalid_keys_are_422(api, body):
    assert_problem(api.post("/keys", json=body), 422)
