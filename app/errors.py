"""Problem details (RFC 9457) for every error the API returns."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

log = logging.getLogger("rectify.errors")

PROBLEM = "application/problem+json"
TYPE_BASE = "https://rectify.dev/problems/"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document, as every 4xx/5xx answer carries it."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    allowed_actions: list[str] | None = None


def _problem_doc(description: str) -> dict:
    return {
        "description": description,
        "model": Problem,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


PROBLEM_RESPONSES: dict[int | str, dict] = {
    400: _problem_doc("Malformed body or query"),
    401: _problem_doc("No or unknown bearer token"),
    403: _problem_doc("Role or unit scope forbids it"),
    404: _problem_doc("No such resource, or outside the caller's unit scope"),
    409: _problem_doc("Not allowed in the current state, or a duplicate"),
    412: _problem_doc("If-Match is stale"),
    413: _problem_doc("Body or upload too large"),
    422: _problem_doc("Well-formed but invalid"),
    503: _problem_doc("The database is unreachable; retry after Retry-After seconds"),
}


def problems(*statuses: int) -> dict[int | str, dict]:
    """``responses=`` for a route that can answer ``statuses`` beyond what ``app.docs``
    derives from its parameters and dependencies (a 409 of a state or a unique key,
    a 404 without a path id)."""
    return {status: PROBLEM_RESPONSES[status] for status in statuses}


OUTAGE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
"""What SQLAlchemy raises when the database cannot be reached (down, restarting,
connections cut, pool exhausted; on SQLite a lock held past the busy timeout)."""
RETRY_AFTER_S = 5


class ProblemError(Exception):
    """An expected refusal: carries its HTTP status and problem type."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ProblemError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class ActionNotAllowed(Conflict):
    title, slug = "Action not allowed in the current state", "action-not-allowed"


class PreconditionFailed(ProblemError):
    status, title, slug = 412, "Precondition failed", "precondition-failed"


class PayloadTooLarge(ProblemError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class Unavailable(ProblemError):
    """Something the service needs cannot be used now (the evidence directory): 503 with
    ``Retry-After``, as for the database; ``/readyz`` says which."""

    status, title, slug = 503, "Service unavailable", "unavailable"
    headers = {"Retry-After": str(RETRY_AFTER_S)}


class Invalid(ProblemError):
    status, title, slug = 422, "Unprocessable content", "validation-error"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None, **ext: Any):
        super().__init__(detail, errors=errors or [], **ext)


def field_error(field: str, message: str) -> Invalid:
    return Invalid(message, errors=[{"field": field, "message": message}])


def problem_body(status: int, title: str, detail: str, slug: str, **ext: Any) -> dict:
    return {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **ext}


def problem_of(exc: ProblemError) -> dict:
    """The problem document ``exc`` answers with (for results that embed one)."""
    return problem_body(exc.status, exc.title, exc.detail, exc.slug, **exc.extensions)


def problem_response(
    status: int, title: str, detail: str, slug: str, headers: dict | None = None, **ext: Any
) -> JSONResponse:
    body = problem_body(status, title, detail, slug, **ext)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def outage_response() -> JSONResponse:
    return problem_response(
        503,
        "Service unavailable",
        "The database cannot be reached at the moment; retry shortly.",
        "unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _loc_field(loc: tuple) -> str:
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    from starlette.routing import Match

    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes):
            allowed.append(method)
    return allowed


CLIENT_CLOSED = 499


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_req: Request, exc: ProblemError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        headers.update(getattr(exc, "headers", None) or {})  # (an HTTPException's too)
        return problem_response(
            exc.status, exc.title, exc.detail, exc.slug, headers=headers, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return problem_response(
                400, "Bad request", "The body is not valid JSON.", "bad-request"
            )
        fields = [
            {"field": _loc_field(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
            for e in errs
        ]
        where = {e.get("loc", ("body",))[0] for e in errs}
        if "path" in where:
            return problem_response(404, "Not found", "No such resource.", "not-found")
        if where & {"query", "header"} and "body" not in where:
            return problem_response(
                400, "Bad request", "Invalid query parameters.", "bad-request", errors=fields
            )
        return problem_response(
            422, "Unprocessable content", "The body is invalid.", "validation-error", errors=fields
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException):
        if exc.status_code == 405:
            exc.headers = {"Allow": ", ".join(_allowed_methods(req))}
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        title = titles.get(exc.status_code, "Error")
        return problem_response(
            exc.status_code,
            title,
            str(exc.detail),
            title.lower().replace(" ", "-"),
            headers=getattr(exc, "headers", None),
        )

    async def _outage(_req: Request, exc: Exception):
        log.warning("database unreachable: %s", type(exc).__name__)
        return outage_response()

    for outage in OUTAGE_ERRORS:
        app.add_exception_handler(outage, _outage)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_req: Request, _exc: ClientDisconnect):
        # The client went away before its body was whole: nobody reads this answer,
        # and it is no server error (nginx's 499, "client closed request").
        log.info("client disconnected before sending the whole body")
        return problem_response(
            CLIENT_CLOSED, "Client closed request", "The body was cut off.", "client-closed"
        )

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return problem_response(
            500,
            "Internal server error",
            "An unexpected error occurred; it has been logged.",
            "internal",
        )
