"""A real ``rectify serve --no-worker`` process for a benchmark, and its CPU clock.

``served`` starts the server on a free loopback port against ``url`` (migrated by
the caller), waits until it answers, and hands back the process with a client
signed in as the bootstrap admin; the server is stopped when the block ends.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def served(
    url: str, admin: str, *, env: dict | None = None, api: bool = True, timeout: float = 600
) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    """(the server process, a client on ``/api/v1`` -- or the root when ``api`` is
    false -- with the admin's token), once the server answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)],
        cwd=ROOT,
        env={
            **os.environ,
            "RECTIFY_DATABASE_URL": url,
            "RECTIFY_BOOTSTRAP_ADMIN_TOKEN": admin,
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}" + ("/api/v1" if api else "")
    try:
        with httpx.Client(
            base_url=base, timeout=timeout, headers={"Authorization": f"Bearer {admin}"}
        ) as client:
            probe = "/units" if api else "/readyz"
            for _ in range(300):
                try:
                    if client.get(probe).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            yield server, client
    finally:
        server.terminate()
        server.wait(10)
