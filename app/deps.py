"""Request dependencies: the unit of work and the authenticated caller."""

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.auth.models import Role
from app.auth.service import Caller, authenticate
from app.db import unit_of_work
from app.errors import Forbidden, Unauthorized

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
T = TypeVar("T")


def get_session(request: Request) -> Iterator[Session]:
    engine = request.app.state.engine
    with unit_of_work(write=request.method not in READ_METHODS, engine=engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_caller(request: Request, session: SessionDep) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required.")
    caller = authenticate(session, token.strip())
    if caller is None:
        raise Unauthorized("Unknown or revoked token.")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def in_unit_of_work(request: Request, work: Callable[[Session, Caller], T]) -> T:
    """Authenticate, run ``work`` and commit in one worker-thread call.

    For the hottest write endpoint (transitions): a sync endpoint with the
    session and caller dependencies costs four thread hand-offs per request
    (enter session, caller, endpoint, exit session); this costs one.
    """

    def run() -> T:
        with unit_of_work(write=True, engine=request.app.state.engine) as session:
            return work(session, get_caller(request, session))

    return await run_in_threadpool(run)


def get_caller_outside_transaction(request: Request) -> Caller:
    """Authenticate in a short read of its own, for endpoints that run their own units
    of work (a scan) and must not hold the request's write transaction meanwhile."""
    with unit_of_work(write=False, engine=request.app.state.engine) as session:
        return get_caller(request, session)


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
