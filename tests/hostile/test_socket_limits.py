"""Limits at the socket (``app.serving``): a head too big is 431 and one too slow 408,
a body that stops arriving ends the connection, a request the parser refuses is
400; each as problem+json with nosniff, the connection closed, the server well."""

import contextlib
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from app import serving
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def connect(live):
    where = urlsplit(live.url)
    opened: list[socket.socket] = []

    def connect() -> socket.socket:
        sock = socket.create_connection((where.hostname, where.port), timeout=30)
        opened.append(sock)
        return sock

    yield connect
    for sock in opened:
        sock.close()
    assert httpx.get(f"{live.url}/healthz", timeout=30).status_code == 200


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """The server's answer, read until it closes the connection (which it must)."""
    data = b""
    while more := sock.recv(65536):
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def _refused(sock: socket.socket, status: int) -> dict:
    got, headers, problem = _answer(sock)
    assert got == status, (got, problem)
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["connection"] == "close"
    assert problem["status"] == status and problem["detail"]
    return problem


def test_a_head_over_the_limit_is_431_before_it_ends(connect):
    sock = connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    with pytest.raises(OSError):  # refused and closed while the header still comes
        for _ in range(64):
            sock.sendall(b"a" * 64 * 1024)
    _refused(sock, 431)


def test_a_head_of_many_small_headers_counts_too(connect):
    sock = connect()
    many = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 100) for n in range(1000))
    with contextlib.suppress(OSError):  # (the server may close before it has all)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many)
    _refused(sock, 431)


@pytest.mark.parametrize("size_kb", [65, 100])
def test_a_head_over_the_limit_sent_in_one_write_is_431_and_never_served(connect, size_kb):
    """A head that arrives whole in one read is parsed in it: counted by what the parser
    saw, not only by the reads that end inside it."""
    sock = connect()
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (size_kb * 1024) + b"\r\n\r\n"
    with contextlib.suppress(OSError):  # (the server may close before it has all)
        sock.sendall(big)
    _refused(sock, 431)


def test_a_head_just_under_the_limit_is_served(connect):
    sock = connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
                 + b"a" * (60 * 1024) + b"\r\n\r\n")  # fmt: skip
    data = b""
    while more := sock.recv(65536):
        data += more
    assert data.startswith(b"HTTP/1.1 200"), data[:200]


def test_a_head_that_trickles_is_408(connect, monkeypatch):
    monkeypatch.setattr(serving, "HEAD_TIMEOUT_S", 0.5)
    sock = connect()
    sock.sendall(b"GET /healthz HT")
    assert "did not arrive" in _refused(sock, 408)["detail"]
    silent = connect()  # opened, and nothing sent
    _refused(silent, 408)


def _post_head(length: int) -> bytes:
    return (
        f"POST /api/v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_that_stops_arriving_ends_the_connection(connect, monkeypatch):
    monkeypatch.setattr(serving, "BODY_IDLE_S", 0.5)
    sock = connect()
    sock.sendall(_post_head(100) + b'{"tit')
    # closed by the server (nobody reads an answer); the socket's own timeout would raise
    assert sock.recv(65536) == b""


def test_a_body_that_trickles_past_the_deadline_ends_the_connection(connect, monkeypatch):
    monkeypatch.setattr(serving, "BODY_DEADLINE_S", 1.0)
    sock = connect()
    sock.sendall(_post_head(100))
    sock.settimeout(0.2)
    closed = False
    for _ in range(100):  # a byte every 0.2 s: never idle, never done
        try:
            sock.sendall(b" ")
            closed = sock.recv(65536) == b""
        except TimeoutError:
            continue
        except OSError:
            closed = True
        if closed:
            break
    assert closed


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /api/v1/items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET\x00 /healthz HTTP/1.1\r\n\r\n",
    ],
    ids=["length-and-chunked", "negative-length", "nul-in-method"],
)
def test_a_request_the_parser_refuses_is_400_problem_json(connect, request_bytes):
    sock = connect()
    sock.sendall(request_bytes)
    assert "malformed HTTP" in _refused(sock, 400)["detail"]
