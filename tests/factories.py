"""Factories and a small API driver, in one place for every test."""

from dataclasses import dataclass, field
from itertools import count

from fastapi.testclient import TestClient

BASE = "/api/v1"
_seq = count(1)
PROBLEM = "application/problem+json"

# The item states tests build (``Api.item_in``): the workflow's states, with
# ``rectifying`` split by the closure request and ``closed`` by resolution.
# ``rectifying`` items already carry one evidence file, so ``submit`` can pass.
ITEM_STATES = (
    "found",
    "assigned",
    "rectifying",
    "review_pending",
    "verified",
    "closed_rectified",
    "closed_withdrawn",
)
_CHAIN = ("assign", "accept", "evidence", "submit", "verify", "close")
_CHAIN_LENGTH = {
    "found": 0,
    "assigned": 1,
    "rectifying": 3,
    "review_pending": 4,
    "verified": 5,
    "closed_rectified": 6,
}


def assert_problem(r, status: int) -> dict:
    """``r`` is an RFC 9457 problem with ``status``: its body."""
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, f"{where}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith(PROBLEM), f"{where}: {r.headers['content-type']}"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status and body["title"] and body["detail"], body
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body


@dataclass
class Api:
    client: TestClient
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self):
        """The database engine of the app under test (TestClient only)."""
        return self.client.app.state.engine

    def headers(self, token: str | None, **extra: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {token}"} if token else {}
        h.update(extra)
        return h

    def call(
        self,
        method: str,
        path: str,
        token: str | None = "admin",
        expect: int | None = None,
        headers: dict | None = None,
        **kw,
    ):
        tok = self.admin_token if token == "admin" else self.tokens.get(token, token)
        r = self.client.request(
            method, BASE + path, headers=self.headers(tok, **(headers or {})), **kw
        )
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def patch(self, path, **kw):
        return self.call("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # factories -------------------------------------------------------------------
    def unit(self, code: str | None = None, name: str | None = None, parent: str | None = None):
        code = code or f"u{next(_seq)}"
        body = {"code": code, "name": name or f"单位{code}", "parent_code": parent}
        return self.post("/units", json=body, expect=201).json()

    def key(self, role: str, unit_code: str | None = None, name: str | None = None) -> str:
        name = name or f"{role}-{unit_code or 'all'}-{next(_seq)}"
        body = {"name": name, "role": role, "unit_code": unit_code}
        token = self.post("/keys", json=body, expect=201).json()["token"]
        self.tokens[name] = token
        return token

    def item(self, token: str | None = "admin", **fields):
        body = {"title": f"问题{next(_seq)}：项目审批材料不全", "source": "audit", **fields}
        return self.post("/items", json=body, token=token, expect=201).json()

    def act(
        self,
        item_id: int,
        action: str,
        token: str | None = "admin",
        expect: int | None = 200,
        **fields,
    ):
        return self.post(
            f"/items/{item_id}/transitions",
            json={"action": action, **fields},
            token=token,
            expect=expect,
        )

    def evidence(
        self,
        item_id: int,
        token: str | None = "admin",
        content: bytes = b"report",
        filename: str = "整改报告.pdf",
        expect: int | None = 201,
    ):
        files = {"file": (filename, content, "application/pdf")}
        return self.post(f"/items/{item_id}/evidence", files=files, token=token, expect=expect)

    def item_in(
        self,
        state: str,
        *,
        sup: str,
        unit: str,
        unit_code: str,
        due_date: str,
        **fields,
    ) -> dict:
        """A new item driven over HTTP into one of ``ITEM_STATES``; returns it as read back.

        ``closed_withdrawn`` is withdrawn from ``assigned``, so it keeps its unit.
        """
        iid = self.item(sup, **fields)["id"]
        if state == "closed_withdrawn":
            self.act(iid, "assign", sup, unit_code=unit_code, due_date=due_date)
            self.act(iid, "withdraw", sup, comment="重复立项，撤销")
        else:
            steps = {
                "assign": lambda: self.act(
                    iid, "assign", sup, unit_code=unit_code, due_date=due_date
                ),
                "accept": lambda: self.act(iid, "accept", unit),
                "evidence": lambda: self.evidence(iid, unit),
                "submit": lambda: self.act(iid, "submit", unit, comment="已整改到位"),
                "verify": lambda: self.act(iid, "verify", sup),
                "close": lambda: self.act(iid, "close", sup),
            }
            for name in _CHAIN[: _CHAIN_LENGTH[state]]:
                steps[name]()
        return self.get(f"/items/{iid}", token=sup, expect=200).json()

    def all_items(self, token: str | None = "admin") -> list[dict]:
        """Every item the token sees, page after page."""
        found, cursor = [], None
        while True:
            params = {"limit": 500, "cursor": cursor}
            page = self.get("/items", token=token, params=params, expect=200).json()
            found += page["data"]
            if not (cursor := page["next_cursor"]):
                return found

    def history(self, item_id: int, token: str | None = "admin") -> list[dict]:
        return self.get(f"/items/{item_id}/history", token=token, expect=200).json()["data"]

    def set_clock(self, now: str):
        return self.call("PUT", "/admin/clock", json={"now": now}, expect=200)


NOW = "2026-03-02T02:00:00Z"  # a Monday, 10:00 in Asia/Shanghai
TODAY = "2026-03-02"
DUE = "2026-04-30"


@dataclass
class World:
    """Units city > {court, district}, one key per role, the clock frozen at ``NOW``."""

    api: Api
    sup: str
    unit: str
    viewer: str
    city: str
    district: str

    def item_in(self, state: str, **fields) -> dict:
        return self.api.item_in(
            state, sup=self.sup, unit=self.unit, unit_code="court", due_date=DUE, **fields
        )


def make_world(api: Api) -> World:
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("district", "某区人民政府", parent="city")
    api.set_clock(NOW)
    return World(
        api,
        sup=api.key("supervisor"),
        unit=api.key("unit", "court"),
        viewer=api.key("viewer"),
        city=api.key("unit", "city"),
        district=api.key("unit", "district"),
    )
