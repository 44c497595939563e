"""Real processes on one PostgreSQL database, and a webhook receiver that records everything.

``Cluster`` runs N ``rectify serve --no-worker`` and M ``rectify worker``
processes on 127.0.0.1, can ``kill -9`` and restart any of them, and always
stops them all on exit. Each child asks the kernel to SIGKILL it when the
thread that started it dies (``PR_SET_PDEATHSIG``), so even a killed pytest
leaves no orphan; start children from the main thread only.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.settings import REPO_ROOT

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
PARENT_ENV = "RECTIFY_SCALE_PARENT_PID"
LAUNCH = f"""
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != int(os.environ[{PARENT_ENV!r}]):
    sys.exit("the test process is gone")
from app.cli import main
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    kind: str  # "api" or "worker"
    index: int
    log: Path
    port: int | None = None
    popen: subprocess.Popen | None = None
    starts: int = 0

    @property
    def name(self) -> str:
        return f"{self.kind}{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Cluster:
    def __init__(self, env: dict[str, str], directory: Path, apis: int = 3, workers: int = 2):
        self.env = {**os.environ, **env, PARENT_ENV: str(os.getpid())}
        directory.mkdir(parents=True, exist_ok=True)
        self.apis = [
            Proc("api", i, directory / f"api{i}.log", port=free_port()) for i in range(apis)
        ]
        self.workers = [Proc("worker", i, directory / f"worker{i}.log") for i in range(workers)]

    @property
    def procs(self) -> list[Proc]:
        return self.apis + self.workers

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.apis]

    def start(self) -> None:
        """Every process at once, as a deployment starts them (start-up work on a
        fresh database is serialized by the app; tests/scale/test_startup.py)."""
        for proc in self.procs:
            self._spawn(proc)
        for proc in self.procs:
            self.wait_ready(proc)

    def _spawn(self, proc: Proc) -> None:
        assert threading.current_thread() is threading.main_thread(), "see PR_SET_PDEATHSIG"
        args = ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(proc.port)]
        if proc.kind == "worker":
            args = ["worker"]
        with open(proc.log, "a") as log:
            log.write(f"\n===== start #{proc.starts + 1} =====\n")
            log.flush()
            proc.popen = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, *args],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc.starts += 1

    def wait_ready(self, proc: Proc, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        marker = f"===== start #{proc.starts} ====="
        while True:
            if not proc.alive:
                raise AssertionError(f"{proc.name} exited while starting:\n{proc.tail()}")
            if proc.kind == "api":
                try:
                    if httpx.get(proc.url + "/readyz", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            else:
                text = proc.log.read_text(errors="replace")
                if "worker started" in text[text.rfind(marker) :]:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} not ready after {timeout} s:\n{proc.tail()}")
            time.sleep(0.1)

    def kill(self, proc: Proc) -> None:
        """``kill -9``: no shutdown code runs, open transactions die with the connection."""
        assert proc.popen is not None
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=STOP_TIMEOUT_S)

    def restart(self, proc: Proc, wait: bool = True) -> None:
        assert not proc.alive
        self._spawn(proc)
        if wait:
            self.wait_ready(proc)

    def stop(self) -> None:
        """SIGTERM everyone, then SIGKILL whoever is left; never leaves a process behind."""
        running = [p for p in self.procs if p.alive]
        for proc in running:
            proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in running:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=STOP_TIMEOUT_S)

    def logs(self, lines: int = 25) -> str:
        return "\n".join(f"--- {p.name} ({p.log}) ---\n{p.tail(lines)}" for p in self.procs)

    def crashes(self) -> list[str]:
        """Tracebacks in the logs (a killed process's clients are expected to see errors;
        a server crashing on its own is not)."""
        return [p.name for p in self.procs if "Traceback" in p.log.read_text(errors="replace")]
