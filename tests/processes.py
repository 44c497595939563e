"""The real ``rectify`` command in subprocesses, run the way an operator runs it.

Each child asks the kernel to SIGKILL it when the test process dies
(``PR_SET_PDEATHSIG``), so a killed pytest leaves no server behind; start
children from the main thread only (the signal follows the thread that forked).
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT_S = 90.0


def rectify_command() -> list[str]:
    """The installed ``rectify`` script beside this interpreter (or ``python -m app.cli``)."""
    script = Path(sys.executable).with_name("rectify")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any ``RECTIFY_*`` variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    env.update(settings)
    return env


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start(
    args: list[str],
    env: dict,
    cwd: Path,
    log: Path | None = None,
    command: list[str] | None = None,
) -> subprocess.Popen:
    """``rectify ARGS`` (or ``command ARGS``) in the background; output to ``log`` (or pipes)."""
    out = open(log, "ab") if log else subprocess.PIPE  # noqa: SIM115 - the child holds it
    try:
        return subprocess.Popen(
            (command or rectify_command()) + args,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log else subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
    finally:
        if log:
            out.close()


def run(args: list[str], env: dict, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        rectify_command() + args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_die_with_parent,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base_url: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> None:
    """Until ``/readyz`` answers 200; fails if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode} while starting")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url}/readyz not ready within {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM, then its exit status (SIGKILL and fail if it does not exit in time)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"no exit within {timeout} s of SIGTERM") from None
