"""The FastAPI application: routers, problem+json errors, start-up."""

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import Engine

from app import metrics
from app.auth.router import router as auth_router
from app.auth.service import ensure_bootstrap_admin
from app.db import get_engine, unit_of_work
from app.deadlines.escalation_router import router as escalation_router
from app.deadlines.router import router as deadlines_router
from app.errors import PROBLEM_RESPONSES, install_error_handlers, problem_response
from app.events.router import router as events_router
from app.items.router import router as items_router
from app.ledger.router import router as ledger_router
from app.ops import router as ops_router
from app.settings import get_settings
from app.units.router import router as units_router
from app.webhooks.router import router as webhooks_router
from app.workflow.registry import registry
from app.workflow.router import router as workflows_router

log = logging.getLogger("rectify")
API_PREFIX = "/api/v1"
UPLOAD_SUFFIXES = ("/evidence", "/import")


def prepare(engine: Engine) -> None:
    """Start-up work shared by the server and the worker: workflows, bootstrap key."""
    settings = get_settings()
    with unit_of_work(engine=engine) as session:
        registry.load(settings.workflows_dir, session)
        if settings.bootstrap_admin_token and ensure_bootstrap_admin(
            session, settings.bootstrap_admin_token
        ):
            log.info("created the bootstrap admin key from RECTIFY_BOOTSTRAP_ADMIN_TOKEN")


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
    )
    app.state.engine = engine or get_engine()
    install_error_handlers(app)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = metrics.route_of(request)
        metrics.REQUESTS.labels(request.method, route, response.status_code).inc()
        metrics.REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    @app.middleware("http")
    async def limit_upload_size(request: Request, call_next):
        length = request.headers.get("content-length", "")
        if (
            request.method == "POST"
            and request.url.path.endswith(UPLOAD_SUFFIXES)
            and length.isdigit()
            and int(length) > settings.max_upload_bytes + 65536
        ):
            return problem_response(
                413,
                "Payload too large",
                f"Uploads are limited to {settings.max_upload_mb} MB.",
                "payload-too-large",
            )
        return await call_next(request)

    for router in (
        auth_router,
        units_router,
        ledger_router,
        items_router,
        workflows_router,
        deadlines_router,
        escalation_router,
        events_router,
        webhooks_router,
    ):
        app.include_router(router, prefix=API_PREFIX, responses=PROBLEM_RESPONSES)
    app.include_router(ops_router)
    app.include_router(metrics.router)
    return app
