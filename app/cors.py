"""CORS for the origins in ``RECTIFY_CORS_ORIGINS`` (API.md, "Browsers and people").

A plain ASGI middleware rather than Starlette's ``CORSMiddleware``: that one
answers a preflight from an unlisted origin with its allow-lists, and the
contract says other origins get no CORS headers at all.
"""

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Accept-Language"
)
EXPOSE_HEADERS = "ETag, Location, Idempotent-Replayed, Retry-After, Content-Disposition"
PREFLIGHT_MAX_AGE = "600"


def _vary_origin(headers: MutableHeaders) -> None:
    vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    if "origin" not in {v.lower() for v in vary}:
        headers["Vary"] = ", ".join([*vary, "Origin"])


class Cors:
    """Answer preflights and add the CORS headers for listed origins; ``Vary: Origin``
    on every response, so a shared cache never serves one origin's answer to another."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app, self.origins = app, origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin if origin is not None and origin in self.origins else None
        if allowed and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(allowed)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                _vary_origin(out)
                if allowed:
                    out["Access-Control-Allow-Origin"] = allowed
                    out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(origin: str) -> Response:
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
                "X-Content-Type-Options": "nosniff",  # answered outside the guard that adds it
            },
        )
