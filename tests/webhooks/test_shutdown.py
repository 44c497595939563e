"""SIGTERM to ``rectify serve``: the in-flight request and the worker's current delivery
finish, then the process exits 0."""

import signal
import socket
import sqlite3
import time

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.processes import clean_env, free_port, start, stop, wait_ready
from tests.webhooks.conftest import wait_until

BOUNDARY = "rectify-shutdown-test"


def _upload_request(item_id: int, content: bytes) -> tuple[bytes, bytes]:
    """An evidence upload as raw HTTP: (head, body)."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="report.txt"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST /api/v1/items/{item_id}/evidence HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head, body


def _status_of_response(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def test_sigterm_finishes_the_request_and_the_delivery_in_flight_then_exits_0(tmp_path, receiver):
    database = tmp_path / "rectify.db"
    env = clean_env(
        RECTIFY_DATABASE_URL=f"sqlite:///{database}",
        RECTIFY_EVIDENCE_DIR=str(tmp_path / "evidence"),
        RECTIFY_BOOTSTRAP_ADMIN_TOKEN=ADMIN_TOKEN,
        RECTIFY_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        RECTIFY_SCAN_INTERVAL_S="3600",
    )
    port, log = free_port(), tmp_path / "serve.log"
    base, auth = f"http://127.0.0.1:{port}/api/v1", {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    proc = start(["serve", "--port", str(port)], env, tmp_path, log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        receiver.hold("/hook")
        hook = {"url": receiver.url("/hook"), "events": ["*"]}
        assert httpx.post(f"{base}/webhooks", json=hook, headers=auth).status_code == 201
        item = {"title": "食堂账目不清", "source": "audit"}
        item_id = httpx.post(f"{base}/items", json=item, headers=auth).json()["id"]
        wait_until(lambda: receiver.received("/hook"), 30, "the worker to send the delivery")

        head, body = _upload_request(item_id, b"x" * 200_000)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head + body[: len(body) // 2])
            time.sleep(1.5)  # the request is under way (its headers read, its body not)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None, "exited with a request in flight"
            sock.sendall(body[len(body) // 2 :])
            assert _status_of_response(sock) == 201
        time.sleep(1.0)
        assert proc.poll() is None, "exited with the worker's delivery in flight"
        receiver.release("/hook")
        status = proc.wait(30)
    finally:
        stop(proc)
    text = log.read_text()
    assert status == 0, text
    assert "Traceback" not in text and "did not stop" not in text, text
    with sqlite3.connect(database) as db:
        deliveries = db.execute("SELECT status, attempts FROM webhook_delivery").fetchall()
        evidence = db.execute("SELECT count(*) FROM evidence").fetchone()[0]
    assert ("delivered", 1) in deliveries, deliveries
    assert evidence == 1
