"""The one fake webhook receiver: a real threaded HTTP server on 127.0.0.1.

It records every POST in arrival order (before answering it) and answers as
programmed: per path ``plan(path, 500, (429, {"Retry-After": "120"}))`` for the
next calls in turn, then ``always(path, status)`` (default 200); ``hold(path)``
keeps requests waiting until ``release(path)``. A ``decide`` function replaces
the programme (the scale tests fail a seeded share of first tries).
"""

import json
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

HOLD_LIMIT_S = 30.0


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets bursts of concurrent deliveries

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (a killed worker, a timeout) is expected here."""


@dataclass
class Received:
    path: str
    headers: dict[str, str] = field(repr=False)
    body: bytes
    status: int | None = None
    """The answer decided for it (set before answering)."""
    answered: int | None = None
    """The answer, once it was sent."""

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def event_id(self) -> str:
        return self.json["id"]

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def verify(self, secret: str) -> dict:
        """Check the signature with the standardwebhooks library; the parsed body."""
        return Webhook(secret).verify(self.body, self.headers)


Answer = int | tuple[int, dict]


class Receiver:
    def __init__(self, decide: Callable[[Received], Answer] | None = None) -> None:
        self.requests: list[Received] = []
        self._decide = decide or self._programmed
        self._plans: defaultdict[str, list] = defaultdict(list)
        self._always: dict[str, int] = {}
        self._holds: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def plan(self, path: str, *answers: Answer) -> None:
        with self._lock:
            self._plans[path].extend(answers)

    def always(self, path: str, status: int) -> None:
        with self._lock:
            self._always[path] = status

    def hold(self, path: str) -> None:
        with self._lock:
            self._holds[path] = threading.Event()

    def release(self, path: str) -> None:
        with self._lock:
            event = self._holds.pop(path, None)
        if event is not None:
            event.set()

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def delivered(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received(path) if r.answered and 200 <= r.answered < 300]

    def delivered_ids(self) -> set[str]:
        """The event ids of the deliveries it accepted."""
        return {r.event_id for r in self.received() if r.ok}

    def close(self) -> None:
        for path in list(self._holds):
            self.release(path)
        self._server.shutdown()
        self._server.server_close()

    def _programmed(self, entry: Received) -> Answer:
        plan = self._plans[entry.path]
        return plan.pop(0) if plan else self._always.get(entry.path, 200)

    def _record(self, entry: Received) -> tuple[int, dict, threading.Event | None]:
        with self._lock:
            answer = self._decide(entry)
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            entry.status = status
            self.requests.append(entry)
            return status, headers, self._holds.get(entry.path)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (a killed worker):
                    self.close_connection = True  # nothing was delivered, nothing to answer
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                entry = Received(self.path, headers, body)
                status, answer_headers, hold = receiver._record(entry)
                if hold is not None:
                    hold.wait(HOLD_LIMIT_S)
                payload = b"ok" if status < 400 else b"nope"
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                entry.answered = status

            def log_message(self, *args) -> None:
                pass

        return Handler


def first_tries_fail(seed: int, rate: float) -> Callable[[Received], Answer]:
    """A ``decide``: the first try of a seeded ``rate`` share of webhook-ids gets a
    500 (so retries run too); every other try a 200. Called under the receiver's lock."""
    rng, seen = random.Random(seed), set()

    def decide(entry: Received) -> Answer:
        first = entry.webhook_id not in seen
        seen.add(entry.webhook_id)
        return 500 if first and rng.random() < rate else 200

    return decide
