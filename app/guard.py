"""The door: what a request must get past before any of its body is read.

One plain ASGI middleware (cheap enough for the transition hot path):

- A request that carries a body to ``/api/v1`` must present a live bearer
  token first (a live key, or a person's valid OIDC token). No token, or one
  no live key holds, is 401 before a single
  byte of the body is received -- chunked or not. A token seen live in the
  last few seconds passes from a small in-process cache; the request's own
  unit of work authenticates it again, so a revoked key still gets its 401.
- Bodies are counted while they are read: JSON over ``RECTIFY_MAX_JSON_KB``
  and uploads over ``RECTIFY_MAX_UPLOAD_MB`` are 413 as soon as the limit is
  passed (or at once, from a Content-Length), so nothing over it is buffered
  or spooled.
- JSON text with NUL or another control character (tab, newline and carriage
  return excepted) is 422 naming the field; a path or query string with one is
  404 / 400. PostgreSQL cannot store NUL, and no field of this API wants one.
- Every response carries ``X-Content-Type-Options: nosniff``, and a JSON body
  says its charset (``application/json; charset=utf-8``, as API.md writes it;
  Starlette names a charset only for ``text/*``).
"""

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.service import authenticate
from app.db import unit_of_work
from app.errors import (
    OUTAGE_ERRORS,
    BadRequest,
    Invalid,
    PayloadTooLarge,
    ProblemError,
    outage_response,
    problem_response,
)

API_PREFIX = "/api/v1/"
UPLOAD_SUFFIXES = ("/evidence", "/import")
UPLOAD_SLACK = 64 * 1024
"""Room for the multipart framing around an upload's bytes."""
LIVE_TOKEN_TTL_S = 10.0
LIVE_TOKEN_CACHE = 4096
NOSNIFF = (b"x-content-type-options", b"nosniff")
CLOSE = {"Connection": "close"}
JSON_TYPE = (b"content-type", b"application/json")
JSON_UTF8 = (b"content-type", b"application/json; charset=utf-8")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters but tab, newline and carriage return; and a lone surrogate (JSON's
``\\ud800`` escape parses to one, which no UTF-8 text can hold: nothing could store it)."""
_SUSPECT_JSON = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u00[78][0-9a-fA-F]|\\u009[0-9a-fA-F]|\\[bf]|\x7f|\xc2[\x80-\x9f]"
    rb"|\\u[dD][89a-fA-F]"
)
"""Bytes that may stand for a control character in JSON text (an escape, DEL, or
a UTF-8 C1 control), or a surrogate escape. A match only means "look closer": the
body is then parsed and its strings checked one by one (a surrogate pair, an emoji,
is one character then)."""
_SUSPECT_QUERY = re.compile(rb"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])|[\x00-\x1f\x7f]")


class BodyTooLarge(PayloadTooLarge, HTTPException):
    """Raised from ``receive`` while the body is read (an HTTPException, so the
    framework's body parsing passes it on instead of calling it a bad body)."""

    def __init__(self, detail: str) -> None:
        # The rest of the body is not read: the connection cannot carry another request.
        HTTPException.__init__(self, 413, detail, headers=dict(CLOSE))
        self.extensions: dict = {}


class NotUtf8(BadRequest, HTTPException):
    def __init__(self) -> None:
        HTTPException.__init__(self, 400, "A JSON body must be UTF-8 (RFC 8259).")
        self.extensions = {}


class ControlCharacters(Invalid, HTTPException):
    def __init__(self, fields: list[str]) -> None:
        errors = [
            {
                "field": f,
                "message": "must not contain NUL, other control characters or lone surrogates",
            }
            for f in fields
        ]
        HTTPException.__init__(
            self, 422, "Text must not contain control characters or lone surrogates."
        )
        self.extensions = {"errors": errors}


def control_fields(value: Any, path: tuple = ()) -> Iterator[str]:
    """The dotted paths of the strings (and object keys) in ``value`` holding a
    control character other than tab, newline and carriage return."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            yield ".".join(str(p) for p in path) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if _CONTROL.search(key):
                yield ".".join(str(p) for p in (*path, key))
                continue
            yield from control_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from control_fields(item, (*path, index))


_UTF16_32 = (b"\xff\xfe", b"\xfe\xff")


def _check_json(body: bytes) -> None:
    # UTF-16 or UTF-32 (a BOM, or a NUL byte among the first four: JSON text opens
    # with ASCII) would parse too, past the byte patterns below.
    if body.startswith(_UTF16_32) or b"\x00" in body[:4]:
        raise NotUtf8()
    if not _SUSPECT_JSON.search(body):
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # the endpoint says "not valid JSON"
    fields = list(dict.fromkeys(control_fields(parsed)))
    if fields:
        raise ControlCharacters(fields)


class LiveTokens:
    """Tokens a live key held a moment ago (monotonic expiry); bounded."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def __contains__(self, token: str) -> bool:
        until = self._until.get(token)
        return until is not None and until > time.monotonic()

    def add(self, token: str) -> None:
        if len(self._until) >= LIVE_TOKEN_CACHE:
            self._until.clear()
        self._until[token] = time.monotonic() + LIVE_TOKEN_TTL_S

    def discard(self, token: str) -> None:
        self._until.pop(token, None)


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Guard:
    def __init__(self, app: ASGIApp, settings, engine_of) -> None:
        self.app = app
        self.settings = settings
        self.engine_of = engine_of
        self.live = LiveTokens()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        head = scope["method"] == "HEAD"
        if head:  # RFC 9110 9.3.2: what GET answers, without the body (routes list GET only)
            scope = {**scope, "method": "GET"}

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [JSON_UTF8 if h == JSON_TYPE else h for h in message.get("headers", ())]
                headers.append(NOSNIFF)
                message["headers"] = headers
            elif head and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_nosniff)
            return
        limited = self._limited_receive(scope, receive)
        await self.app(scope, limited or receive, send_nosniff)

    async def _refusal(self, scope: Scope):
        path: str = scope["path"]
        if _CONTROL.search(path):
            return problem_response(404, "Not found", "No such resource.", "not-found")
        if _SUSPECT_QUERY.search(scope.get("query_string", b"")):
            fields = _control_query_fields(scope["query_string"])
            if fields:
                return problem_response(
                    400,
                    "Bad request",
                    "Query parameters must not contain NUL or other control characters.",
                    "bad-request",
                    errors=[
                        {"field": f, "message": "contains a control character"} for f in fields
                    ],
                )
        if not path.startswith(API_PREFIX):
            return None
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if "transfer-encoding" not in headers and (length is None or length.strip() in ("", "0")):
            return None
        token = _bearer(headers)
        if token is None:
            return _unauthorized("A bearer token is required.") if _routed(scope) else None
        if token not in self.live:
            try:
                known = await run_in_threadpool(self._known, scope, token)
            except OUTAGE_ERRORS:
                return outage_response()
            except ProblemError as exc:  # a person's token: invalid (401) or unusable (403)
                if not _routed(scope):
                    return None
                www = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                return problem_response(
                    exc.status, exc.title, exc.detail, exc.slug, headers=www, **exc.extensions
                )
            if not known:
                return _unauthorized("Unknown or revoked token.") if _routed(scope) else None
            self.live.add(token)
        limit = self._limit(scope)
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return problem_response(
                413,
                "Payload too large",
                self._too_large(scope),
                "payload-too-large",
                headers=dict(CLOSE),
            )
        return None

    def _known(self, scope: Scope, token: str) -> bool:
        engine = self.engine_of(scope)
        with unit_of_work(write=False, engine=engine) as session:
            return authenticate(session, token) is not None

    def _is_upload(self, scope: Scope) -> bool:
        return scope["method"] == "POST" and scope["path"].endswith(UPLOAD_SUFFIXES)

    def _limit(self, scope: Scope) -> int:
        if self._is_upload(scope):
            return self.settings.max_upload_bytes + UPLOAD_SLACK
        return self.settings.max_json_bytes

    def _too_large(self, scope: Scope) -> str:
        if self._is_upload(scope):
            return f"Uploads are limited to {self.settings.max_upload_mb} MB."
        return f"JSON bodies are limited to {self.settings.max_json_kb} KB."

    def _limited_receive(self, scope: Scope, receive: Receive) -> Receive | None:
        if not scope["path"].startswith(API_PREFIX) or scope["method"] in ("GET", "HEAD"):
            return None
        limit = self._limit(scope)
        upload = self._is_upload(scope)
        received = 0
        parts: list[bytes] = []

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                parts.clear()
                raise BodyTooLarge(self._too_large(scope))
            if not upload:
                parts.append(chunk)
                if not message.get("more_body", False):
                    body = parts[0] if len(parts) == 1 else b"".join(parts)
                    parts.clear()
                    _check_json(body)
            return message

        return limited


def _routed(scope: Scope) -> bool:
    """Whether a route serves this method at this path. A request no route serves
    is left to the router's 404 / 405, which reads no body either."""
    app = scope.get("app")
    if app is None:
        return True
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def _control_query_fields(query: bytes) -> list[str]:
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
    return list(dict.fromkeys(n for n, v in pairs if _CONTROL.search(n) or _CONTROL.search(v)))


def _unauthorized(detail: str):
    return problem_response(
        401, "Unauthorized", detail, "unauthorized", headers={"WWW-Authenticate": "Bearer"}
    )
