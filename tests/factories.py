"""Factories and a small API driver, in one place for every test."""

from dataclasses import dataclass, field
from itertools import count

from fastapi.testclient import TestClient

BASE = "/api/v1"
_seq = count(1)


@dataclass
class Api:
    client: TestClient
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)

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

    def set_clock(self, now: str):
        return self.call("PUT", "/admin/clock", json={"now": now}, expect=200)
