"""Signing in with the organisation's OpenID Connect provider: the authorization-code flow
with PKCE, built by the console from the provider's discovery document.

No provider runs here: the browser's requests to the issuer are answered by the test
(discovery, the authorization redirect back with a code, the token exchange), and the
test checks what the console sent: S256 challenge, state, redirect URI, verifier."""

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from app.console.router import console_settings

ISSUER = "http://127.0.0.1:9/realms/city"
CORS = {"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"}


@pytest.fixture
def oidc_env(monkeypatch):
    monkeypatch.setenv("RECTIFY_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("RECTIFY_CONSOLE_OIDC_CLIENT_ID", "rectify-console")
    console_settings.cache_clear()
    yield
    console_settings.cache_clear()


def test_pkce_redirect_and_code_exchange(oidc_env, live, open_page):
    page, watch = open_page()
    watch.tolerate(r"/api/v1/(me|units|workflows)$")  # a made-up token this server refuses
    seen = {}

    def discovery(route):
        route.fulfill(
            headers=CORS,
            body=json.dumps(
                {
                    "issuer": ISSUER,
                    "authorization_endpoint": ISSUER + "/protocol/openid-connect/auth",
                    "token_endpoint": ISSUER + "/protocol/openid-connect/token",
                }
            ),
        )

    def authorize(route):
        seen["authorize"] = parse_qs(urlsplit(route.request.url).query)
        state = seen["authorize"]["state"][0]
        route.fulfill(
            status=302, headers={"Location": f"{live}/console/?code=the-code&state={state}"}
        )

    def token(route):
        seen["token"] = parse_qs(route.request.post_data)
        route.fulfill(headers=CORS, body=json.dumps({"access_token": "oidc-access-token"}))

    page.route(ISSUER + "/.well-known/openid-configuration", discovery)
    page.route(ISSUER + "/protocol/openid-connect/auth*", authorize)
    page.route(ISSUER + "/protocol/openid-connect/token", token)

    page.goto(f"{live}/console/")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/me")) as me:
        page.click("#oidc-sign-in")
    assert me.value.headers["authorization"] == "Bearer oidc-access-token"

    auth = {k: v[0] for k, v in seen["authorize"].items()}
    assert auth["response_type"] == "code" and auth["client_id"] == "rectify-console"
    assert auth["redirect_uri"] == f"{live}/console/" and auth["scope"] == "openid profile"
    assert auth["code_challenge_method"] == "S256" and len(auth["state"]) >= 16
    form = {k: v[0] for k, v in seen["token"].items()}
    assert form["grant_type"] == "authorization_code" and form["code"] == "the-code"
    assert form["client_id"] == "rectify-console" and form["redirect_uri"] == auth["redirect_uri"]
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == auth["code_challenge"]
    assert 43 <= len(form["code_verifier"]) <= 128

    page.wait_for_selector("#token")  # this server does not know the token: back to sign-in
    assert "?code=" not in page.url and page.evaluate("sessionStorage.length") == 0
    watch.assert_clean()


def test_a_callback_with_a_foreign_state_is_refused(oidc_env, live, open_page):
    page, watch = open_page()
    page.goto(f"{live}/console/?code=stolen&state=not-ours")
    page.wait_for_selector("#signin-error:has-text('state')")
    assert "?code=" not in page.url
    watch.assert_clean()
