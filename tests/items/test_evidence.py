"""Evidence files (佐证材料): upload, list, download, limits.

One database per backend for the module, except the size-limit tests, which
need their own settings and so their own app.
"""

import hashlib
from urllib.parse import quote

import pytest

from app.settings import get_settings
from tests.factories import assert_problem, make_world

MB = 1024 * 1024


@pytest.fixture(scope="module")
def world(shared_api):
    return make_world(shared_api)


def test_upload_list_download_round_trip(world):
    api = world.api
    item = world.item_in("assigned")
    api.act(item["id"], "accept", world.unit)
    content = "整改报告：征地补偿款已全部发放。\n".encode() * 500 + bytes(range(256))
    name = "关于征地补偿款发放情况的整改报告（第1版）.pdf"

    r = api.evidence(item["id"], world.unit, content=content, filename=name)
    meta = r.json()
    assert {"id", "filename", "size", "sha256", "content_type", "uploaded_at"} <= meta.keys()
    assert meta["filename"] == name
    assert meta["size"] == len(content)
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["content_type"] == "application/pdf"

    listed = api.get(f"/items/{item['id']}/evidence", token=world.viewer, expect=200).json()
    assert listed["data"] == [meta]

    r = api.get(f"/items/{item['id']}/evidence/{meta['id']}", token=world.unit, expect=200)
    assert r.content == content
    assert hashlib.sha256(r.content).hexdigest() == meta["sha256"]
    assert r.headers["content-type"].startswith("application/pdf")
    assert quote(name) in r.headers["content-disposition"]

    last = api.history(item["id"])[-1]
    assert last["action"] == "evidence" and last["data"]["sha256"] == meta["sha256"]


@pytest.mark.parametrize("asked", ["bytes=0-3", "bytes=100-200", "bytes=-5", "lines=1-2"])
def test_a_download_is_the_whole_file_whatever_range_asks(world, asked):
    """No 206 or plain-text 416 (statuses the contract has not): the file whole, 200,
    with ``Accept-Ranges: none``."""
    item = world.item_in("assigned")
    meta = world.api.evidence(item["id"], world.sup, content=b"0123456789").json()
    path = f"/items/{item['id']}/evidence/{meta['id']}"
    r = world.api.get(path, token=world.sup, headers={"Range": asked}, expect=200)
    assert r.content == b"0123456789" and r.headers["accept-ranges"] == "none"
    assert "content-range" not in r.headers


def test_the_same_bytes_twice_are_two_records_one_blob(world):
    api = world.api
    item = world.item_in("rectifying")
    first = api.evidence(item["id"], world.unit, content=b"same").json()
    second = api.evidence(item["id"], world.unit, content=b"same", filename="copy.txt").json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    listed = api.get(f"/items/{item['id']}/evidence").json()["data"]
    assert [e["filename"] for e in listed] == ["整改报告.pdf", "整改报告.pdf", "copy.txt"]
    for e in listed[1:]:
        assert api.get(f"/items/{item['id']}/evidence/{e['id']}").content == b"same"


def test_a_path_in_the_filename_is_dropped(world):
    item = world.item_in("assigned")
    got = world.api.evidence(item["id"], world.unit, filename="../../etc/passwd").json()
    assert got["filename"] == "passwd"
    got = world.api.evidence(item["id"], world.unit, filename="C:\\材料\\报告.docx").json()
    assert got["filename"] == "报告.docx"


def test_evidence_of_another_item_is_404(world):
    api = world.api
    a, b = world.item_in("assigned"), world.item_in("assigned")
    ev = api.evidence(a["id"], world.unit).json()
    assert_problem(api.get(f"/items/{b['id']}/evidence/{ev['id']}"), 404)
    assert_problem(api.get(f"/items/{a['id']}/evidence/999999"), 404)


def test_a_closed_item_takes_no_evidence(world):
    item = world.item_in("closed_rectified")
    r = world.api.evidence(item["id"], world.sup, expect=None)
    assert_problem(r, 409)


def test_an_upload_without_a_file_is_422(world):
    item = world.item_in("assigned")
    r = world.api.post(f"/items/{item['id']}/evidence", token=world.unit, data={"x": "1"})
    assert_problem(r, 422)


@pytest.fixture
def one_mb_limit(settings_env, monkeypatch):
    monkeypatch.setenv("RECTIFY_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()


@pytest.mark.parametrize("size", [MB + 1, 3 * MB])
def test_an_upload_over_the_limit_is_413_and_leaves_nothing(one_mb_limit, api, size):
    world = make_world(api)
    item = world.item_in("assigned")
    before = api.history(item["id"])
    r = api.evidence(item["id"], world.unit, content=b"x" * size, expect=None)
    assert_problem(r, 413)
    assert api.get(f"/items/{item['id']}/evidence").json()["data"] == []
    assert api.history(item["id"]) == before
    evidence_dir = get_settings().evidence_dir
    assert not evidence_dir.exists() or not [p for p in evidence_dir.rglob("*") if p.is_file()]


def test_an_upload_at_the_limit_passes(one_mb_limit, api):
    world = make_world(api)
    item = world.item_in("assigned")
    got = api.evidence(item["id"], world.unit, content=b"x" * MB).json()
    assert got["size"] == MB
