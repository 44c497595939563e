"""The FastAPI application: routers, problem+json errors, start-up."""

import gc
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.auth.router import router as auth_router
from app.auth.service import ensure_bootstrap_admin
from app.console.router import mount_console
from app.cors import Cors
from app.db import get_engine, unit_of_work
from app.deadlines.escalation_router import router as escalation_router
from app.deadlines.router import router as deadlines_router
from app.deps import BODY_SCHEMAS
from app.docs import finish_document, install_docs, operation_id
from app.errors import install_error_handlers
from app.events.router import router as events_router
from app.guard import Guard
from app.items.anchor import history_key
from app.items.router import admin_router as history_admin_router
from app.items.router import router as items_router
from app.ledger.router import router as ledger_router
from app.links import API_PREFIX
from app.ops import router as ops_router
from app.plans.router import router as plans_router
from app.settings import get_settings
from app.units.router import router as units_router
from app.webhooks.router import router as webhooks_router
from app.workflow.registry import registry
from app.workflow.router import router as workflows_router
from app.writers import turns_for

log = logging.getLogger("rectify")


def prepare(engine: Engine) -> None:
    """Start-up work shared by the server and the worker: workflows, bootstrap key."""
    settings = get_settings()
    with unit_of_work(engine=engine) as session:
        registry.load(settings.workflows_dir, session)
        if settings.bootstrap_admin_token and ensure_bootstrap_admin(
            session, settings.bootstrap_admin_token
        ):
            log.info("created the bootstrap admin key from RECTIFY_BOOTSTRAP_ADMIN_TOKEN")
    history_key()  # created at the first start that gets this far, with a warning


class CountRequests:
    """Count requests and their duration by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The metrics' children by label values (few: routes x methods x statuses),
        # looked up here rather than through ``labels`` (a lock and a str() of each
        # label value, twice a request).
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method, route = scope["method"], metrics.route_of(Request(scope))
            counter = self._counted.get((method, route, status))
            if counter is None:
                counter = metrics.REQUESTS.labels(method, route, status)
                self._counted[method, route, status] = counter
            timer = self._timed.get((method, route))
            if timer is None:
                timer = self._timed[method, route] = metrics.REQUEST_SECONDS.labels(method, route)
            counter.inc()
            timer.observe(time.perf_counter() - started)


def _freeze_start_up_objects() -> None:
    """Put what start-up built out of the cyclic collector's reach, once a process.

    The app, its routes and models, the workflows' machines, SQLAlchemy's mappers --
    some 200,000 objects -- live as long as the server process. A full collection
    walked them all, ~150 ms with every thread stopped, about once every few hundred
    transitions (bench/transition_throughput.py); frozen, it walks only what requests
    made since. Garbage is collected first so none is kept for good, and only the
    first start freezes: a process that starts many apps (the tests) frees the others.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def create_app(
    engine: Engine | None = None, *, migrate: bool | None = None, worker: bool = False
) -> FastAPI:
    """The app; ``worker`` runs the deadline scans and deliveries in this process."""
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if migrate if migrate is not None else settings.auto_migrate:
            from app.migrate import upgrade

            upgrade(str(app.state.engine.url.render_as_string(hide_password=False)))
        prepare(app.state.engine)
        _freeze_start_up_objects()
        if not worker:
            yield
            return
        from app.worker import embedded

        async with embedded(app.state.engine):
            yield

    app = FastAPI(
        title="Rectify",
        version="1.0.0",
        summary="Workflow engine for supervision-item rectification (问题整改).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # No 307 from /items/ to /items: its Location would be built from the client's
        # Host header (a poisoned cache's redirect); the contract's paths have no slash.
        redirect_slashes=False,
    )
    app.state.engine = engine or get_engine()
    app.state.write_turns = turns_for(app.state.engine)
    install_error_handlers(app)

    # Plain ASGI middleware: Starlette's @app.middleware("http") (BaseHTTPMiddleware)
    # cost ~20% of a transition's CPU in bench/transition_throughput.py.
    app.add_middleware(CountRequests)
    _guard_everything(app, settings)

    # Requests are matched against the routes in this order, one by one: the items'
    # routes (transitions, the hottest) come first. None of them overlaps another
    # router's path (the ledger's /items/export and /items/import are no item ids).
    for router in (
        items_router,
        history_admin_router,
        auth_router,
        units_router,
        ledger_router,
        plans_router,
        workflows_router,
        deadlines_router,
        escalation_router,
        events_router,
        webhooks_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(ops_router)
    app.include_router(metrics.router)
    install_docs(app)
    mount_console(app)
    _document_parsed_bodies(app)
    return app


def _guard_everything(app: FastAPI, settings) -> None:
    """Put ``Guard`` outside the whole stack, error middleware included, so that even
    a 500 carries nosniff and no handler runs before the token is checked; and
    ``Cors`` outside that (outermost), so a preflight is answered before the guard
    and every refusal -- the guard's 401 / 413 / 400 included -- carries the CORS
    headers for a listed origin."""
    build = app.build_middleware_stack

    def build_guarded() -> ASGIApp:
        guarded = Guard(build(), settings, lambda _scope: app.state.engine)
        if settings.cors_origin_list:
            return Cors(guarded, origins=settings.cors_origin_list)
        return guarded

    app.build_middleware_stack = build_guarded  # type: ignore[method-assign]


def _document_parsed_bodies(app: FastAPI) -> None:
    """Add the bodies that endpoints parse themselves (``deps.body_doc``) to the schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = build()  # FastAPI keeps it as app.openapi_schema
            schema.setdefault("components", {}).setdefault("schemas", {}).update(BODY_SCHEMAS)
            finish_document(schema, app.routes)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
