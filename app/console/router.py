"""Serve the console's static files under a strict Content-Security-Policy.

The console is a client of the public JSON API like any other front end: this
module only serves files and the console's public sign-in configuration.
"""

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings, get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
PREFIX = "/console"


# One settings object: ``RECTIFY_OIDC_ISSUER`` is the issuer the API verifies person
# tokens against and the one the console signs people in with (none of the values
# the browser is given is a secret).
console_settings = get_settings


def public_config(settings: Settings) -> dict:
    oidc = None
    if settings.oidc_issuer and settings.console_oidc_client_id:
        oidc = {
            "issuer": settings.oidc_issuer.rstrip("/"),
            "client_id": settings.console_oidc_client_id,
            "scope": settings.console_oidc_scope,
        }
    return {"api": "/api/v1", "oidc": oidc}


def content_security_policy(settings: Settings) -> str:
    """No inline script or style, nothing from another origin but the identity
    provider (discovery and token exchange are fetched from the browser)."""
    connect = "'self'"
    cfg = public_config(settings)["oidc"]
    if cfg:
        parts = urlsplit(cfg["issuer"])
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"font-src 'self'; connect-src {connect}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


class ConsoleHeaders:
    """Add the CSP and friends to every response under /console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        policy = content_security_policy(console_settings())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers.setdefault("Cache-Control", "no-cache")
            await send(message)

        await self.app(scope, receive, send_with_headers)


router = APIRouter(include_in_schema=False)


@router.get(PREFIX)
def console_root() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/", status_code=308)


@router.get(PREFIX + "/config.json")
def console_config() -> JSONResponse:
    return JSONResponse(public_config(console_settings()))


def mount_console(app: FastAPI) -> None:
    app.include_router(router)
    files = StaticFiles(directory=STATIC_DIR, html=True)
    app.mount(PREFIX, GZipMiddleware(files, minimum_size=1024), name="console")
    app.add_middleware(ConsoleHeaders)
