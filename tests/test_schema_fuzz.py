"""schemathesis against /openapi.json with an admin token: no 500s, errors are
problem+json, and responses conform to the published schema.

The app under test runs on its own throw-away SQLite database, migrated and
prepared here, because schemathesis loads the schema at collection time.
"""

import os
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.db import make_engine
from app.main import create_app, prepare
from app.migrate import upgrade
from app.settings import get_settings

TOKEN = "fuzz-admin-token-0123456789"
_dir = tempfile.mkdtemp(prefix="rectify-fuzz-")
_url = f"sqlite:///{_dir}/fuzz.db"


def _app():
    saved = {
        k: os.environ.get(k) for k in ("RECTIFY_BOOTSTRAP_ADMIN_TOKEN", "RECTIFY_EVIDENCE_DIR")
    }
    os.environ["RECTIFY_BOOTSTRAP_ADMIN_TOKEN"] = TOKEN
    os.environ["RECTIFY_EVIDENCE_DIR"] = f"{_dir}/evidence"
    get_settings.cache_clear()
    try:
        upgrade(_url)
        engine = make_engine(_url)
        prepare(engine)
        return create_app(engine, migrate=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, monkeypatch):
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", f"{_dir}/evidence")
    get_settings.cache_clear()
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), content_type
    # Business rules (a unit key must name its unit, a due date in the past...) rightly
    # refuse some schema-valid bodies with 409/422, so that one check does not apply.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
