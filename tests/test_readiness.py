"""/readyz: the evidence directory must be writable; migrations are checked once, not per probe."""

import shutil

import app.ops
from app.settings import get_settings


def test_readyz_is_503_while_the_evidence_directory_is_not_writable(api):
    evidence = get_settings().evidence_dir
    assert api.client.get("/readyz").status_code == 200
    shutil.rmtree(evidence, ignore_errors=True)
    evidence.write_text("a file where the directory should be")
    r = api.client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"  # a 5xx like every other
    assert r.json()["status"] == 503 and r.json()["title"] == "Not ready"
    assert r.json()["detail"].startswith("evidence: not writable")
    assert r.json()["checks"]["evidence"].startswith("not writable")
    assert r.json()["checks"]["database"] == "ok" and int(r.headers["retry-after"]) > 0
    evidence.unlink()
    r = api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["detail"]["evidence"] == "ok"


def test_an_upload_while_the_evidence_directory_is_not_writable_is_503_and_leaves_nothing(api):
    """The deployment's fault, not the caller's: 503 with Retry-After as for the database
    (it was a 500), no evidence row, no history entry; once the directory is back it works."""
    api.unit("court", "法院")
    iid = api.item(title="证据", source="audit")["id"]
    before = api.get(f"/items/{iid}", expect=200).json()
    evidence = get_settings().evidence_dir
    shutil.rmtree(evidence, ignore_errors=True)
    evidence.write_text("a file where the directory should be")
    r = api.evidence(iid, expect=503)
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) > 0
    assert api.get(f"/items/{iid}", expect=200).json() == before
    assert api.get(f"/items/{iid}/evidence", expect=200).json()["data"] == []
    evidence.unlink()
    api.evidence(iid, expect=201)


def test_readyz_checks_the_migrations_once_not_per_probe(api, monkeypatch):
    calls = []
    real = app.ops.current_revision
    monkeypatch.setattr(app.ops, "current_revision", lambda conn: calls.append(1) or real(conn))
    for _ in range(5):
        r = api.client.get("/readyz")
        migrations = r.json()["detail"]["migrations"]
        assert r.status_code == 200 and migrations["current"] == migrations["head"]
    assert len(calls) == 1
