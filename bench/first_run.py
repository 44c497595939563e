"""A newcomer's first run: clone to the first ``/readyz`` 200, phase by phase.

    python bench/first_run.py [--rounds 1] [--keep]

1. ``git clone`` of this repository (a local clone, checked out at the current
   commit: commit first what you want measured) into a temporary directory;
2. the README's first set-up command, step by step, in the clone: ``python3 -m
   venv .venv``, ``.venv/bin/pip install -q .`` (pip's cache as it is, so a
   machine that installed once before does not download again), then
   ``rectify serve --demo`` (on a free port) polled until ``/readyz`` is 200 --
   the demo's own summary line, with its load time, is printed too;
3. baseline, in the same venv: a bare FastAPI hello-world under uvicorn, started
   the same way and polled until its first 200 (``import fastapi`` and a server
   start: the least any Python web service costs).
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 600
HELLO = """
import sys
from fastapi import FastAPI
import uvicorn
app = FastAPI()
@app.get("/")
def hello():
    return {"hello": "world"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def readme_setup_command() -> list[str]:
    """The steps of the README's first set-up command (its first ``sh`` block)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Set up.*?```sh\n(.*?)```", text, re.S)
    if block is None:
        sys.exit("README.md has no set-up command")
    return [step.strip() for step in block.group(1).strip().split("&&")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This shell's environment without any RECTIFY_ setting (the README assumes none)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}


def run(cmd: str, cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, shell=True, cwd=cwd, env=env, check=True)
    return time.perf_counter() - started


def until_ready(cmd: str, url: str, cwd: Path, env: dict) -> tuple[float, str]:
    """Start ``cmd``, poll ``url`` until 200: (seconds, the process's output so far)."""
    log = cwd / f".first-run-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            shell=True,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if proc.poll() is not None:
                sys.exit(f"{cmd!r} exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - started, log.read_text()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        sys.exit(f"{url} not ready after {READY_TIMEOUT_S} s:\n{log.read_text()}")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)


def one_round(keep: bool) -> dict[str, float]:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if dirty:
        print("  note: uncommitted changes are not measured (the clone is of the commit)")
    work = Path(tempfile.mkdtemp(prefix="rectify-first-run-"))
    clone = work / "rectify"
    env = clean_env()
    times: dict[str, float] = {}
    try:
        started = time.perf_counter()
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", commit], cwd=clone, check=True)
        times["git clone"] = time.perf_counter() - started
        *install, serve = readme_setup_command()
        for step in install:
            times[step] = run(step, clone, env)
        port = free_port()
        # the README's serve step with its settings, on a free port
        times[f"{serve} (to /readyz 200)"], output = until_ready(
            f"{serve} --port {port}", f"http://127.0.0.1:{port}/readyz", clone, env
        )
        summary = [line for line in output.splitlines() if line.startswith("demo: loaded")]
        demo = re.search(r" in ([\d.]+) s$", summary[0]) if summary else None
        if demo:
            times["  of which loading the demo"] = float(demo.group(1))
        times["clone to ready"] = sum(v for k, v in times.items() if not k.startswith(" "))
        (clone / "hello.py").write_text(HELLO)
        port = free_port()
        times["baseline: uvicorn hello-world to first 200"], _ = until_ready(
            f".venv/bin/python hello.py {port}", f"http://127.0.0.1:{port}/", clone, env
        )
        print(f"  commit {commit[:12]}; {work}")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the clone")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    rounds = []
    for n in range(args.rounds):
        times = one_round(args.keep)
        rounds.append(times)
        print(f"round {n + 1}:")
        for phase, seconds in times.items():
            print(f"  {phase:<60} {seconds:7.1f} s")
    best = min(rounds, key=lambda t: t["clone to ready"])
    ready = best[next(k for k in best if k.endswith("(to /readyz 200)"))]
    hello = best["baseline: uvicorn hello-world to first 200"]
    print(
        f"clone to ready {best['clone to ready']:.1f} s (best of {len(rounds)}); "
        f"serve --demo to ready {ready:.1f} s = {ready / hello:.1f}x a bare uvicorn "
        f"hello-world ({hello:.1f} s)"
    )


if __name__ == "__main__":
    main()
