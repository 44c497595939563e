"""The console's files: served locally under a strict CSP, its sign-in config public."""

import re
from pathlib import Path

import pytest

from app.console.router import STATIC_DIR, console_settings


@pytest.fixture
def console_env(monkeypatch):
    console_settings.cache_clear()
    yield monkeypatch
    console_settings.cache_clear()


def test_index_and_modules_carry_a_strict_csp(client, console_env):
    for path in ("/console/", "/console/js/main.js", "/console/app.css", "/console/config.json"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-" not in csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert client.get("/console/js/main.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/api/v1/me").headers.get("content-security-policy") is None


def test_console_without_slash_redirects(client, console_env):
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/console/"


def test_config_names_the_provider_only_when_configured(client, console_env):
    assert client.get("/console/config.json").json() == {"api": "/api/v1", "oidc": None}
    console_env.setenv("RECTIFY_OIDC_ISSUER", "https://sso.example.gov.cn/realms/city/")
    console_env.setenv("RECTIFY_CONSOLE_OIDC_CLIENT_ID", "rectify-console")
    console_settings.cache_clear()
    r = client.get("/console/config.json")
    assert r.json()["oidc"] == {
        "issuer": "https://sso.example.gov.cn/realms/city",
        "client_id": "rectify-console",
        "scope": "openid profile",
    }
    assert "connect-src 'self' https://sso.example.gov.cn;" in r.headers["content-security-policy"]


def test_every_file_is_local_and_no_script_is_inline():
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert any(p.suffix == ".js" for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"https?://[^\s'\"<>)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, f"{path.relative_to(STATIC_DIR)} refers to {urls}"
        if path.suffix == ".css":
            assert "@import" not in text and "url(" not in text
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", index))
    assert "style=" not in index and " on" not in re.sub(r"<script.*?</script>", "", index)


def test_modules_stay_small():
    for path in Path(STATIC_DIR).rglob("*.js"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, path.name


def test_every_module_is_preloaded_by_the_page():
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for path in (STATIC_DIR / "js").rglob("*.js"):
        name = path.relative_to(STATIC_DIR).as_posix()
        assert name == "js/main.js" or f'<link rel="modulepreload" href="{name}">' in index, name


def test_static_files_are_compressed(client, console_env):
    r = client.get("/console/js/i18n.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "content-security-policy" in r.headers
