"""The HTTP protocol the server speaks: uvicorn's (httptools), with the limits a
public server needs before a request reaches the application.

uvicorn reads a request head of any size, waits for its end and for a body's
next byte for ever (only an idle keep-alive connection is closed), and answers a
request it cannot parse in ``text/plain``. Here, at the socket:

- a head (request line and headers) over ``MAX_HEAD_BYTES`` is 431, and one not
  whole ``HEAD_TIMEOUT_S`` after its first byte (or after the connection opened,
  when no byte came) is 408: a stranger can neither grow the server's memory
  with one endless header nor hold connections open by trickling one;
- a body that stops arriving for ``BODY_IDLE_S``, or is not whole
  ``BODY_DEADLINE_S`` after its head, ends the connection (the application sees
  the client gone: ``app.errors``' 499), unless the application is what holds it
  back (it has not yet read what came);
- the time limits are looked at once a ``WATCH_S`` per connection, so a request
  itself arms no timer;
- every refusal made here is ``application/problem+json`` with ``nosniff`` and
  closes the connection, like the application's own.
"""

import json
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.errors import problem_body

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 10.0
BODY_IDLE_S = 15.0
BODY_DEADLINE_S = 300.0
WATCH_S = 1.0
"""How often a connection's limits are looked at: the time limits hold to within it."""


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


class HeadTooLarge(Exception):
    """Raised from a parser callback: the parser stops, the head has been answered."""


class GuardedHttp(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the head's size and time limits and the body's
    (the module's docstring); pass it as uvicorn's ``http``.

    One watch per connection, every ``WATCH_S``, compares the times the parser
    callbacks note: a request arms no timer of its own."""

    _head_bytes = 0
    _head_parsed = 0
    _in_head = True
    _head_started = 0.0
    _body_started: float | None = None
    _body_seen = 0.0
    _watch: TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_started = self.loop.time()
        self._watch = self.loop.call_later(WATCH_S, self._look)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()

    def _refuse_head(self) -> None:
        self._refuse(
            431,
            "Request header fields too large",
            f"The request line and headers exceed {MAX_HEAD_BYTES // 1024} KB.",
        )

    def send_400_response(self, msg: str) -> None:
        if not self.transport.is_closing():  # (not after a 431 that stopped the parser)
            self._refuse(400, "Bad request", f"{msg} (malformed HTTP)")

    # parser callbacks: note the times ---------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_parsed = True, 0, 0
        self._head_started = self.loop.time()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_parsed += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_parsed += len(name) + len(value) + 4  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self._in_head = False
        # A head that came whole in one read was parsed before ``data_received`` could
        # count it: its size is what the callbacks saw.
        if self._head_parsed > MAX_HEAD_BYTES:
            self._refuse_head()
            raise HeadTooLarge  # stops the parser: the request never reaches the app
        super().on_headers_complete()
        # A request without a body completes in this same read, before the watch looks.
        self._body_started = self._body_seen = self.loop.time()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_seen = self.loop.time()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._body_started = None

    # the watch ------------------------------------------------------------------------------
    def _look(self) -> None:
        self._watch = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._in_head and now - self._head_started > HEAD_TIMEOUT_S:
            self._refuse(
                408,
                "Request timeout",
                f"The request line and headers did not arrive within {HEAD_TIMEOUT_S:g} s.",
            )
            return
        started = self._body_started
        # (not while the application is not reading yet: the wait is not the client's doing)
        if (
            started is not None
            and not self.flow.read_paused
            and (now - started > BODY_DEADLINE_S or now - self._body_seen > BODY_IDLE_S)
        ):
            self.transport.close()  # the application reads the client as gone
            return
        self._watch = self.loop.call_later(WATCH_S, self._look)

    def _refuse(self, status: int, title: str, detail: str) -> None:
        self.logger.warning("refused at the socket: %d %s", status, detail)
        self.transport.write(problem_bytes(status, title, detail))
        self.transport.close()
