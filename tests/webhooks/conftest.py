"""Fakes for webhook tests: a real HTTP receiver on 127.0.0.1 and a worker driver."""

import asyncio
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from app.settings import get_settings
from app.webhooks.delivery import run_once

HOLD_LIMIT_S = 30.0
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For tests of request validation that no database behaviour can change."""


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 resets bursts of concurrent deliveries

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (a killed worker, a timeout) is expected here."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> dict:
        """Check the signature with the standardwebhooks library; the parsed body."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 whose answers are programmed per path.

    ``plan(path, 500, 500, (429, {"Retry-After": "120"}))`` answers the next calls
    in turn, then ``always(path, status)`` (default 200). ``hold(path)`` keeps
    requests waiting until ``release(path)``.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._plans: defaultdict[str, list] = defaultdict(list)
        self._always: dict[str, int] = {}
        self._holds: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def plan(self, path: str, *answers) -> None:
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

    def close(self) -> None:
        for path in list(self._holds):
            self.release(path)
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str) -> tuple[int, dict, threading.Event | None]:
        with self._lock:
            answer = self._plans[path].pop(0) if self._plans[path] else self._always.get(path, 200)
            hold = self._holds.get(path)
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return status, headers, hold

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                entry = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.requests.append(entry)
                status, headers, hold = receiver._answer(self.path)
                if hold is not None:
                    hold.wait(HOLD_LIMIT_S)
                payload = b"ok" if status < 400 else b"nope"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                entry.answered = status

            def log_message(self, *args) -> None:
                pass

        return Handler


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fast_retries(monkeypatch, engine):
    """Retries without waiting: four tries in all."""
    monkeypatch.setenv("RECTIFY_DELIVERY_RETRY_SCHEDULE_S", "0,0,0")
    get_settings.cache_clear()


def deliver(engine, rounds: int = 50) -> list[dict]:
    """Run worker rounds until a round finds nothing to do now."""
    results = []
    for _ in range(rounds):
        result = asyncio.run(run_once(engine))
        results.append(result)
        if result == {"fanned_out": 0, "attempted": 0}:
            return results
    raise AssertionError(f"still busy after {rounds} rounds: {results[-3:]}")


def subscribe(api, receiver: Receiver, path: str = "/hook", events=("*",), **fields) -> dict:
    body = {"url": receiver.url(path), "events": list(events), **fields}
    return api.post("/webhooks", json=body, expect=201).json()


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
