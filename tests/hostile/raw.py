"""HTTP over a raw socket: bodies sent chunk by chunk (chunked or with a
Content-Length that may lie), stopping as soon as the server answers."""

import contextlib
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int
    """Body bytes the client had sent when the answer came."""
    seconds: float
    extra: dict = field(default_factory=dict)


def chunks(total: int, size: int = 64 * 1024, byte: bytes = b"x") -> Iterable[bytes]:
    block = byte * size
    while total > 0:
        yield block[: min(size, total)]
        total -= size


def send(
    url: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Iterable[bytes] = (),
    *,
    chunked: bool = True,
    timeout: float = 30.0,
) -> RawResponse:
    """Send the request, a piece of body at a time; stop sending once the server
    answers (or closes), then read the answer."""
    parts = urlsplit(url)
    started = time.monotonic()
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    try:
        head = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
        if chunked:
            head.append("Transfer-Encoding: chunked")
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        sent = 0
        finished = True
        for piece in body:
            if select.select([sock], [], [], 0)[0]:
                finished = False
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except (BrokenPipeError, ConnectionResetError):
                finished = False
                break
            sent += len(piece)
        if finished and chunked:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"0\r\n\r\n")
        return _read(sock, sent, started)
    finally:
        sock.close()


def _read(sock: socket.socket, sent: int, started: float) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            more = sock.recv(65536)
        except ConnectionResetError:
            more = b""
        if not more:
            raise ConnectionError(f"no answer (had {data!r})")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        try:
            more = sock.recv(65536)
        except ConnectionResetError:
            break
        if not more:
            break
        rest += more
    return RawResponse(status, headers, rest[:length], sent, time.monotonic() - started)
