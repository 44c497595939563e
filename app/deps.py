"""Request dependencies: the unit of work and the authenticated caller."""

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller, authenticate
from app.db import MAX_ID, unit_of_work
from app.errors import BadRequest, Forbidden, Unauthorized
from app.writers import READ_METHODS, run_write, write_turn_dependency

Id = Annotated[int, Path(ge=0, le=MAX_ID)]
"""A numeric id in a path: out of the database's range is 404, like any unknown id."""
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def get_session(
    request: Request, _turn: Annotated[None, Depends(write_turn_dependency, scope="function")]
) -> Iterator[Session]:
    """The request's unit of work; a write one on SQLite only once the request has its
    turn (``app.writers``), which it keeps until after the commit."""
    engine = request.app.state.engine
    with unit_of_work(write=request.method not in READ_METHODS, engine=engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def bearer_token(request: Request) -> str:
    """The request's bearer token; 401 without one, before the body is even validated.
    (Async: it does no I/O, so it costs no thread hand-off.)"""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required.")
    return token.strip()


BearerDep = Annotated[str, Depends(bearer_token)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
"""An item mutation's precondition: its ETag as last read (412 when stale)."""


def _query_names(dependant) -> Iterator[str]:
    yield from (p.alias for p in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def strict_query(request: Request) -> None:
    """A GET naming a query parameter its endpoint does not take is 400, naming it:
    a typo (``?tg=``) must never silently answer the unfiltered list."""
    if request.method != "GET" or not request.query_params:
        return
    route = request.scope.get("route")
    names = getattr(route, "query_names", None)
    if names is None:
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            return
        names = frozenset(_query_names(dependant))
        route.query_names = names  # type: ignore[union-attr]  # computed once per route
    unknown = [name for name in request.query_params if name not in names]
    if unknown:
        raise BadRequest(
            f"Unknown query parameter {unknown[0]!r}"
            + (f"; this endpoint takes {', '.join(sorted(names))}." if names else "."),
            errors=[{"field": name, "message": "unknown query parameter"} for name in unknown],
        )
    # Every parameter takes one value (a list is comma-separated: ``state=a,b``): a second
    # would be dropped silently (``state=found&state=closed`` answered the closed ones).
    repeated = [
        n for n in dict.fromkeys(request.query_params) if len(request.query_params.getlist(n)) > 1
    ]
    if repeated:
        raise BadRequest(
            f"The query parameter {repeated[0]!r} is given more than once; give it once.",
            errors=[{"field": name, "message": "given more than once"} for name in repeated],
        )


def _caller(session: Session, token: str, with_calendar: bool = False) -> Caller:
    caller = authenticate(session, token, with_calendar=with_calendar)
    if caller is None:
        raise Unauthorized("Unknown or revoked token.")
    return caller


def get_caller(token: BearerDep, session: SessionDep, request: Request) -> Caller:
    caller = _caller(session, token)
    strict_query(request)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def in_unit_of_work(request: Request, token: str, work: Callable[[Session, Caller], T]) -> T:
    """Authenticate, run ``work`` and commit in one worker-thread call.

    For the hottest write endpoint (transitions): a sync endpoint with the
    session and caller dependencies costs four thread hand-offs per request
    (enter session, caller, endpoint, exit session); this costs one. ``work``
    parses its body itself (``parse_body``), so an unknown token is 401 before
    anything about the body is said, as with the dependencies. The caller's
    statement also reads the calendar overrides, which a transition needs: one
    round trip fewer. On SQLite it runs in a write turn on the writer thread
    (``app.writers.run_write``).
    """

    def run() -> T:
        with unit_of_work(write=True, engine=request.app.state.engine) as session:
            return work(session, _caller(session, token, with_calendar=True))

    return await run_write(request, run)


def parse_body(model: type[M], raw: bytes) -> M:
    """Validate a JSON body as FastAPI would (bad JSON 400, field errors 422), for an
    endpoint that reads it only once the caller is known. A UTF-8 byte-order mark is
    ignored, as FastAPI's ``json.loads`` does (RFC 8259 8.1 lets a parser)."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if not raw.strip():
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


BODY_SCHEMAS: dict[str, dict] = {}
"""Models named by ``body_doc``; ``main.create_app`` adds them to the OpenAPI components."""


def body_doc(model: type[BaseModel]) -> dict:
    """``openapi_extra`` declaring ``model`` as the JSON body of an endpoint that parses
    its body itself (``parse_body``)."""
    BODY_SCHEMAS[model.__name__] = model.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def get_caller_outside_transaction(token: BearerDep, request: Request) -> Caller:
    """Authenticate in a short read of its own, for endpoints that run their own units
    of work (a scan) and must not hold the request's write transaction meanwhile."""
    with unit_of_work(write=False, engine=request.app.state.engine) as session:
        return _caller(session, token)


def require(*roles: Role):
    """Dependency factory: the caller must hold one of ``roles``."""

    def _check(caller: CallerDep) -> Caller:
        if caller.role not in roles:
            raise Forbidden(f"This needs the role {' or '.join(r.value for r in roles)}.")
        return caller

    return Depends(_check)


AdminDep = Annotated[Caller, require(Role.admin)]


def _admin_outside_transaction(
    caller: Annotated[Caller, Depends(get_caller_outside_transaction)],
) -> Caller:
    if caller.role != Role.admin:
        raise Forbidden("This needs the role admin.")
    return caller


StandaloneAdminDep = Annotated[Caller, Depends(_admin_outside_transaction)]
