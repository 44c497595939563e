"""People sign in with a real OpenID Connect provider (Node's certified
``oidc-provider``, tests/oidc/), whose access tokens Rectify accepts beside
API keys; every token here comes from its token endpoint (client-credentials
grant), except the forgeries the provider would never issue.
"""

import base64
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from app.auth import oidc
from app.settings import get_settings
from tests.factories import DUE, assert_problem, make_world
from tests.oidc.provider import AUDIENCE, Client, OidcProvider, node_ready, public_jwk

pytestmark = pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))

PEOPLE = [
    Client("zhang.san", {"rectify_role": "supervisor", "name": "张三"}),
    Client("li.si", {"rectify_role": "unit", "rectify_unit": "court", "name": "李四"}),
    Client("wang.wu", {"rectify_role": "viewer", "rectify_unit": "court", "name": "王五"}),
    Client("zhao.liu", {"rectify_role": "admin", "name": "赵六"}),
    Client("no.unit", {"rectify_role": "unit", "name": "无单位"}),
    Client("no.role", {"name": "无角色"}),
    Client("bad.role", {"rectify_role": "root", "name": "乱角色"}),
    Client("far.unit", {"rectify_role": "unit", "rectify_unit": "nowhere", "name": "外单位"}),
    Client("ps.user", {"rectify_role": "supervisor", "name": "PS"}, alg="PS256"),
    Client("es.user", {"rectify_role": "supervisor", "name": "ES"}, alg="ES256"),
    Client("brief", {"rectify_role": "supervisor", "name": "短"}, ttl=1),
    Client("long.name", {"rectify_role": "supervisor", "name": "\u0000长" * 300}),
]


@pytest.fixture(scope="module")
def provider():
    p = OidcProvider(PEOPLE).start()
    yield p
    p.stop()


def _configure(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture
def world(api, provider, monkeypatch):
    _configure(monkeypatch, **provider.env())
    return make_world(api)


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims_of(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_a_person_acts_and_history_and_events_name_them(world, provider):
    api = world.api
    zhang, li = provider.token("zhang.san"), provider.token("li.si")
    assert _claims_of(zhang)["aud"] == AUDIENCE and _claims_of(zhang)["iss"] == provider.issuer

    me = api.get("/me", token=zhang, expect=200).json()
    assert me == {
        "kind": "person",
        "name": "张三",
        "subject": "zhang.san",
        "role": "supervisor",
        "unit_code": None,
    }
    assert api.get("/me", token=li, expect=200).json()["unit_code"] == "court"

    r = api.post(
        "/items",
        token=zhang,
        json={"title": "人员签名的问题", "source": "audit"},
        headers={"Idempotency-Key": "k-1"},
        expect=201,
    )
    item = r.json()
    again = api.post(
        "/items",
        token=zhang,
        json={"title": "人员签名的问题", "source": "audit"},
        headers={"Idempotency-Key": "k-1"},
        expect=201,
    )
    assert again.json()["id"] == item["id"] and again.headers["idempotent-replayed"] == "true"
    api.act(item["id"], "assign", zhang, unit_code="court", due_date=DUE)
    api.act(item["id"], "accept", li)

    actors = [e["actor"] for e in api.history(item["id"])]
    assert actors == [
        "supervisor:张三 <zhang.san>",
        "supervisor:张三 <zhang.san>",
        "unit:李四 <li.si>",
    ]
    events = api.get("/events", expect=200).json()["data"]
    accepted = [e for e in events if e["type"] == "item.transitioned"][-1]
    assert accepted["data"]["actor"] == {
        "kind": "person",
        "name": "李四",
        "subject": "li.si",
        "role": "unit",
    }
    created = [e for e in events if e["type"] == "item.created"][-1]
    assert created["data"]["actor"]["subject"] == "zhang.san"


def test_api_keys_keep_working_beside_people(world, provider):
    api = world.api
    me = api.get("/me", token=world.sup, expect=200).json()
    assert me["kind"] == "key" and me["subject"].startswith("key:")
    api.get("/me", token=provider.token("zhao.liu"), expect=200)
    api.get("/keys", token=provider.token("zhao.liu"), expect=200)
    assert_problem(api.get("/keys", token=provider.token("zhang.san")), 403)


@pytest.mark.parametrize("person", ["zhang.san", "ps.user", "es.user"])
def test_rs256_ps256_and_es256_are_accepted(world, provider, person):
    token = provider.token(person)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == {"zhang.san": "RS256", "ps.user": "PS256", "es.user": "ES256"}[person]
    assert world.api.get("/me", token=token, expect=200).json()["role"] == "supervisor"


def test_a_unit_person_sees_their_subtree_and_a_bound_viewer_only_reads_it(world, provider):
    api = world.api
    mine = world.item_in("assigned")
    other = api.item(world.sup)
    api.act(other["id"], "assign", world.sup, unit_code="district", due_date=DUE)
    for person in ("li.si", "wang.wu"):
        token = provider.token(person)
        listed = {i["id"] for i in api.get("/items", token=token, expect=200).json()["data"]}
        assert mine["id"] in listed and other["id"] not in listed
        assert_problem(api.get(f"/items/{other['id']}", token=token), 404)
    assert_problem(api.act(mine["id"], "accept", provider.token("wang.wu"), expect=None), 403)


@pytest.mark.parametrize("person", ["no.unit", "no.role", "bad.role", "far.unit"])
def test_a_valid_token_without_a_usable_role_or_unit_is_403(world, provider, person):
    body = assert_problem(world.api.get("/me", token=provider.token(person)), 403)
    assert "claim" in body["detail"] or "unit" in body["detail"]


def test_an_expired_token_is_401_after_the_leeway(world, provider, monkeypatch):
    token = provider.token("brief")
    time.sleep(2.1)
    assert world.api.get("/me", token=token, expect=200)  # within the 60 s leeway
    _configure(monkeypatch, RECTIFY_OIDC_LEEWAY_S="0")
    body = assert_problem(world.api.get("/me", token=token), 401)
    assert "expired" in body["detail"]


def test_a_token_for_another_audience_is_401(world, provider, monkeypatch):
    token = provider.token("zhang.san")
    _configure(monkeypatch, RECTIFY_OIDC_AUDIENCE="urn:another:service")
    body = assert_problem(world.api.get("/me", token=token), 401)
    assert "aud" in body["detail"]


def test_a_token_from_another_issuer_is_401(world, provider, monkeypatch):
    token = provider.token("zhang.san")
    jwks_uri = httpx.get(f"{provider.issuer}/.well-known/openid-configuration").json()["jwks_uri"]
    _configure(
        monkeypatch,
        RECTIFY_OIDC_ISSUER="https://id.other.example.gov/realms/x",
        RECTIFY_OIDC_JWKS_URL=jwks_uri,
    )
    body = assert_problem(world.api.get("/me", token=token), 401)
    assert "iss" in body["detail"]


def test_alg_none_is_401(world, provider):
    claims = _claims_of(provider.token("zhang.san"))
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1-rsa'})}.{_b64(claims)}."
    assert_problem(world.api.get("/me", token=forged), 401)
    forged_admin = f"{_b64({'alg': 'none'})}.{_b64({**claims, 'rectify_role': 'admin'})}."
    assert_problem(world.api.get("/me", token=forged_admin), 401)


def test_an_hs256_token_signed_with_the_public_key_is_401(world, provider):
    """The classic key-confusion forgery: HMAC keyed with the provider's public key."""
    import hashlib
    import hmac

    claims = {**_claims_of(provider.token("zhang.san")), "rectify_role": "admin"}
    rsa_jwk = public_jwk(next(k for k in provider.keys if k["kty"] == "RSA"))
    public = RSAAlgorithm.from_jwk(rsa_jwk)
    for secret in (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(rsa_jwk).encode(),
    ):
        signing_input = (
            f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': rsa_jwk['kid']})}.{_b64(claims)}"
        )
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert_problem(world.api.get("/me", token=f"{signing_input}.{_b64(signature)}"), 401)


def test_a_tampered_token_is_401(world, provider):
    token = provider.token("li.si")
    head, _body, signature = token.split(".")
    claims = {**_claims_of(token), "rectify_unit": "district"}
    assert_problem(world.api.get("/me", token=f"{head}.{_b64(claims)}.{signature}"), 401)


def test_a_provider_token_is_401_when_no_provider_is_configured(api, provider):
    assert_problem(api.get("/me", token=provider.token("zhang.san")), 401)


def test_after_key_rotation_an_unknown_kid_refetches_the_keys_at_most_once_a_minute(
    api, monkeypatch
):
    rotating = OidcProvider([PEOPLE[0]]).start()
    try:
        _configure(monkeypatch, **rotating.env())
        clock = [1000.0]
        verifier = oidc.verifier()
        verifier.clock = lambda: clock[0]
        before = rotating.token("zhang.san")
        assert api.get("/me", token=before, expect=200).json()["name"] == "张三"
        assert verifier.keys().fetches == 1

        rotating.rotate("k2")
        after = rotating.token("zhang.san")
        assert json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["kid"] == "k2-rsa"
        clock[0] += 30  # within a minute of the last fetch: not fetched again
        for _ in range(5):
            assert_problem(api.get("/me", token=after), 401)
        assert verifier.keys().fetches == 1

        clock[0] += 31  # a minute on: one refetch finds the new key
        assert api.get("/me", token=after, expect=200).json()["subject"] == "zhang.san"
        assert verifier.keys().fetches == 2

        forged_kid = f"{_b64({'alg': 'RS256', 'kid': 'nobody'})}.{after.split('.', 1)[1]}"
        for _ in range(5):
            assert_problem(api.get("/me", token=forged_kid), 401)
        assert verifier.keys().fetches == 2
    finally:
        rotating.stop()


@pytest.mark.parametrize(("nbf_in", "status"), [(30, 200), (120, 401)])
def test_nbf_is_checked_with_the_leeway(world, provider, nbf_in, status):
    """The provider issues no ``nbf``; this token is signed with the provider's own key
    (the fixture made it) to show a not-yet-valid token is refused past the leeway."""
    import jwt

    claims = {**_claims_of(provider.token("zhang.san")), "nbf": int(time.time()) + nbf_in}
    rsa_jwk = next(k for k in provider.keys if k["kty"] == "RSA")
    token = jwt.encode(
        claims, jwt.PyJWK(rsa_jwk).key, algorithm="RS256", headers={"kid": rsa_jwk["kid"]}
    )
    r = world.api.get("/me", token=token)
    assert r.status_code == status, r.text


def test_a_long_or_unprintable_name_is_cut_to_fit_the_history(world, provider):
    token = provider.token("long.name")
    me = world.api.get("/me", token=token, expect=200).json()
    assert me["name"] == "长" * 100
    item = world.api.item(token)
    assert world.api.history(item["id"])[0]["actor"] == f"supervisor:{'长' * 100} <long.name>"


def test_the_guard_refuses_a_bad_person_token_before_the_body_with_its_status(world, provider):
    """Main's guard authenticates a request with a body before reading it: a person's
    token it cannot accept is that token's 401 / 403 there, never a 500."""
    token = provider.token("li.si")
    head, _body, signature = token.split(".")
    tampered = f"{head}.{_b64({**_claims_of(token), 'rectify_unit': 'district'})}.{signature}"
    body = {"title": "门口拒绝", "source": "audit"}
    r = world.api.client.post(
        "/api/v1/items", json=body, headers={"Authorization": f"Bearer {tampered}"}
    )
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    r = world.api.client.post(
        "/api/v1/items",
        json=body,
        headers={"Authorization": f"Bearer {provider.token('no.role')}"},
    )
    assert_problem(r, 403)


def test_a_unit_persons_transition_reads_as_many_statements_as_a_keys(world, provider):
    """The person's unit and the calendar overrides come in one statement, as a key's
    row and the overrides do: a person costs no round trip more than a key."""
    from sqlalchemy import event

    api = world.api
    engine = api.engine
    li = provider.token("li.si")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    def accept_counted(item_id: int, token: str) -> list[str]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            api.act(item_id, "accept", token)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return list(statements)

    by = {}
    for who, token in (("key", world.unit), ("person", li)):
        item = api.item(world.sup)
        api.act(item["id"], "assign", world.sup, unit_code="court", due_date=DUE)
        by[who] = accept_counted(item["id"], token)
    assert len(by["person"]) == len(by["key"])
