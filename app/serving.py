"""The HTTP protocol the server speaks: uvicorn's (httptools), with the limits a
public server needs before a request reaches the application.

uvicorn reads a request head of any size, waits for its end and for a body's
next byte for ever (only an idle keep-alive connection is closed), and answers a
request it cannot parse in ``text/plain``. Here, at the socket:

- a head (request line and headers) over ``MAX_HEAD_BYTES`` is 431, and one not
  whole ``HEAD_TIMEOUT_S`` after its first byte (or after the connection opened,
  when no byte came) is 408: a stranger can neither grow the server's memory
  with one endless header nor hold connections open by trickling one;
- a body that stops arriving for ``BODY_IDLE_S`` while the application waits for
  it, or is not whole ``BODY_DEADLINE_S`` after its head, ends the connection
  (the application sees the client gone: ``app.errors``' 499);
- every refusal made here is ``application/problem+json`` with ``nosniff`` and
  closes the connection, like the application's own.
"""

import json
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.errors import problem_body

MAX_HEAD_BYTES = 64 * 1024
_BODY_HEADERS = (b"content-length", b"transfer-encoding")
HEAD_TIMEOUT_S = 10.0
BODY_IDLE_S = 15.0
BODY_DEADLINE_S = 300.0


def problem_bytes(status: int, title: str, detail: str) -> bytes:
    """A whole HTTP response: problem+json, ``nosniff``, and the connection closed."""
    slug = title.lower().replace(" ", "-")
    body = json.dumps(problem_body(status, title, detail, slug), ensure_ascii=False).encode()
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/problem+json\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class GuardedHttp(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the head's size and time limits and the body's
    (the module's docstring); pass it as uvicorn's ``http``."""

    _head_bytes = 0
    _body_seen = 0.0
    _in_head = True
    _head_timer: TimerHandle | None = None
    _body_idle: TimerHandle | None = None
    _body_deadline: TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(
                    431,
                    "Request header fields too large",
                    f"The request line and headers exceed {MAX_HEAD_BYTES // 1024} KB.",
                )

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "Bad request", f"{msg} (malformed HTTP)")

    # parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        if self._head_timer is None:  # (the connection's first request has one running)
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()
        if any(name in _BODY_HEADERS for name, _value in self.headers):
            self._body_seen = self.loop.time()
            self._body_deadline = self.loop.call_later(BODY_DEADLINE_S, self._body_stalled)
            self._body_idle = self.loop.call_later(BODY_IDLE_S, self._body_idle_expired)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_seen = self.loop.time()  # (the idle timer looks when it fires)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_body_timers()

    # the limits ---------------------------------------------------------------------------
    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(
                408,
                "Request timeout",
                f"The request line and headers did not arrive within {HEAD_TIMEOUT_S:g} s.",
            )

    def _body_idle_expired(self) -> None:
        self._body_idle = None
        idle = self.loop.time() - self._body_seen
        if idle < BODY_IDLE_S or self.flow.read_paused:
            # a byte came since, or the application is not reading yet (not the client's
            # doing): look again when the rest of the idle time has passed
            wait = BODY_IDLE_S - idle if idle < BODY_IDLE_S else BODY_IDLE_S
            self._body_idle = self.loop.call_later(wait, self._body_idle_expired)
            return
        self._body_stalled()

    def _body_stalled(self) -> None:
        self._cancel_body_timers()
        if not self.transport.is_closing():
            self.transport.close()  # the application reads the client as gone

    def _refuse(self, status: int, title: str, detail: str) -> None:
        self.logger.warning("refused at the socket: %d %s", status, detail)
        self._cancel_head_timer()
        self.transport.write(problem_bytes(status, title, detail))
        self.transport.close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timers(self) -> None:
        for timer in (self._body_idle, self._body_deadline):
            if timer is not None:
                timer.cancel()
        self._body_idle = self._body_deadline = None
