"""An httpx transport that connects only to addresses the SSRF guard checked.

The URL keeps its host name (so ``Host``, TLS SNI and certificate checks are
the receiver's own), but the TCP connection goes to the address pinned for
that host and port by ``pinned(...)`` in the sending task. A connection to an
unpinned host is refused, so nothing the guard has not seen is ever dialled.
Kept-alive connections are reused only for the same host and port.
"""

import contextvars
import functools
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

_PIN: contextvars.ContextVar["Pin | None"] = contextvars.ContextVar("rectify_pin", default=None)


@dataclass(frozen=True)
class Pin:
    host: str
    port: int
    ip: str


@contextmanager
def pinned(host: str, port: int, ip: str) -> Iterator[None]:
    """Within this block (and this task), connections to ``host:port`` go to ``ip``."""
    token = _PIN.set(Pin(host.lower(), port, ip))
    try:
        yield
    finally:
        _PIN.reset(token)


_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """Raise httpcore's errors as the httpx errors callers expect."""
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host, port, timeout=None, local_address=None, socket_options=None
    ) -> httpcore.AsyncNetworkStream:
        pin = _PIN.get()
        if pin is None or (pin.host, pin.port) != (host.lower(), port):
            raise httpcore.ConnectError(f"refusing to connect to unchecked target {host}:{port}")
        return await self._inner.connect_tcp(pin.ip, port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Stream(httpx.AsyncByteStream):
    def __init__(self, stream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


@functools.cache
def _ssl_context():
    return httpx.create_ssl_context()


class PinnedTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int | None = None, keepalive: int = 200) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=keepalive,
            keepalive_expiry=30.0,
            network_backend=_PinnedBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            resp = await self._pool.handle_async_request(req)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Stream(resp.stream),
            extensions=resp.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def delivery_client(timeout_s: float) -> httpx.AsyncClient:
    """The client deliveries share: pinned connections, no redirects, no proxies from env."""
    return httpx.AsyncClient(
        transport=PinnedTransport(),
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": "Rectify-Webhooks/1.0"},
    )
