"""Peak RSS growth of a real server under hostile requests (issue 10).

Starts ``rectify serve --no-worker`` on a fresh SQLite database in a subprocess,
lets it settle, then for each scenario resets the process's peak RSS
(``/proc/PID/clear_refs``), sends the requests, and prints how far the peak
rose above the RSS before. Target: under +50 MB for each.

- a zip bomb: an xlsx of 2 MB whose shared strings unpack to 2 GiB, imported
  with an admin token;
- eight concurrent 50 MB chunked bodies without a valid token (``POST /items``
  and uploads), and eight with one (JSON over the limit; uploads over it).

    python bench/hostile_rss.py
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.server import free_port  # noqa: E402
from tests.hostile.bombs import xlsx_bomb  # noqa: E402
from tests.hostile.raw import chunks, send  # noqa: E402

TOKEN = "bench-admin-token-0123456789"
MB = 1 << 20
TARGET_MB = 50
PART_HEADER = (
    b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _measure(pid: int, label: str, action) -> float:
    time.sleep(0.5)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kb(pid, "VmRSS")
    started = time.monotonic()
    outcome = action()
    took = time.monotonic() - started
    growth = (_status_kb(pid, "VmHWM") - before) / 1024
    verdict = "ok" if growth < TARGET_MB else "OVER TARGET"
    print(
        f"{label:<58} peak RSS +{growth:6.1f} MB  ({took:5.2f} s; {outcome})  {verdict}",
        flush=True,
    )
    return growth


def _concurrently(n: int, call) -> str:
    results: list[str] = [""] * n

    def run(i: int) -> None:
        try:
            results[i] = str(call())
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            results[i] = type(exc).__name__

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ",".join(sorted(set(results)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--body-mb", type=int, default=50)
    parser.add_argument("--bomb-gib", type=int, default=2)
    args = parser.parse_args()

    print("building the zip bomb ...", flush=True)
    bomb = xlsx_bomb(args.bomb_gib << 30)
    directory = tempfile.mkdtemp(prefix="rectify-hostile-")
    port = free_port()
    env = {
        **os.environ,
        "RECTIFY_DATABASE_URL": f"sqlite:///{directory}/rectify.db",
        "RECTIFY_EVIDENCE_DIR": f"{directory}/evidence",
        "RECTIFY_BOOTSTRAP_ADMIN_TOKEN": TOKEN,
        "RECTIFY_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)],
        env=env,
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=auth, timeout=120) as client:
            item = client.post("/api/v1/items", json={"title": "基准", "source": "audit"})
            item_id = item.json()["id"]
            for _ in range(20):  # warm up the code paths measured below
                client.get(f"/api/v1/items/{item_id}")

            def import_bomb() -> int:
                files = {"file": ("台账.xlsx", bomb, "application/octet-stream")}
                return client.post("/api/v1/items/import", files=files).status_code

            size = args.body_mb * MB

            def body(path: str, token: str | None, content_type: str):
                headers = {"Content-Type": content_type}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                prefix = PART_HEADER if content_type.startswith("multipart") else b'{"title":"'
                return lambda: (
                    send(url, "POST", path, headers, [prefix, *chunks(size)], timeout=120).status
                )

            multipart = "multipart/form-data; boundary=b0undary"
            upload = f"/api/v1/items/{item_id}/evidence"
            scenarios = [
                ("zip bomb (2 MB xlsx -> 2 GiB), admin token", import_bomb),
                (
                    f"8 x {args.body_mb} MB chunked JSON, unknown token",
                    lambda: _concurrently(
                        8, body("/api/v1/items", "rk_invalid", "application/json")
                    ),
                ),
                (
                    f"8 x {args.body_mb} MB chunked uploads, unknown token",
                    lambda: _concurrently(8, body(upload, "rk_invalid", multipart)),
                ),
                (
                    f"8 x {args.body_mb} MB chunked JSON, admin token",
                    lambda: _concurrently(8, body("/api/v1/items", TOKEN, "application/json")),
                ),
                (
                    f"8 x {args.body_mb} MB chunked uploads, admin token",
                    lambda: _concurrently(8, body(upload, TOKEN, multipart)),
                ),
            ]
            worst = max(_measure(server.pid, label, action) for label, action in scenarios)
        print(f"worst peak RSS growth: +{worst:.1f} MB (target under +{TARGET_MB} MB)")
        return 0 if worst < TARGET_MB else 1
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
