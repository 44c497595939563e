"""催办 (urge) of 500 items: one ``POST /items/batch`` against 500 single requests.

One real ``rectify serve --no-worker`` process (uvicorn); the client, in
this process, sends over keep-alive HTTP (as a front end looping over a list
would) first 500 single ``POST /items/{id}/transitions {"action":"urge"}``
one after another, then one ``POST /items/batch`` of 500 other items, and
prints both throughputs and their ratio per round (median of the rounds).
Target (issue 14): the batch >= 10x the throughput of the single requests.
The single requests commit one transaction each; the batch checks every
item's rules in Python and writes the 500 items together in one (see
app/items/batch.py). Beside the wall-clock ratio, the server process's CPU
seconds for each (steadier on a shared machine; PostgreSQL's own CPU aside).

    python bench/batch_urge.py [--items 500] [--rounds 3] [--pg URL]
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.scan import _drop_pg, _fresh_pg  # noqa: E402
from bench.server import cpu_seconds, served  # noqa: E402

ADMIN = "bench-admin-token-batch-0123456789"


def _ledger(n: int, units: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(["标题", "来源", "责任单位", "整改时限"])
    due = date.today() + timedelta(days=120)
    for i in range(n):
        ws.append([f"问题{i}：项目审批材料不全", "巡视巡察", f"u{i % units:02d}", due])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def run(name: str, url: str, n: int, rounds: int) -> float:
    from app.migrate import upgrade

    upgrade(url)
    ratios, cpu_ratios = [], []
    with served(url, ADMIN, env={"RECTIFY_MAX_UPLOAD_MB": "100"}) as (server, client):
        for i in range(20):
            client.post("/units", json={"code": f"u{i:02d}", "name": f"第{i}单位"})
        sup = client.post("/keys", json={"name": "督查室", "role": "supervisor"}).json()
        client.headers["Authorization"] = f"Bearer {sup['token']}"
        files = {"file": ("台账.xlsx", _ledger(2 * n * rounds, 20))}
        client.post("/items/import", files=files).raise_for_status()
        ids, cursor = [], None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = client.get("/items", params=params).json()
            ids += [i["id"] for i in page["data"]]
            if not (cursor := page["next_cursor"]):
                break
        for r in range(rounds):
            singles, batch = (
                ids[2 * n * r : 2 * n * r + n],
                ids[2 * n * r + n : 2 * n * (r + 1)],
            )
            cpu, t = cpu_seconds(server.pid), time.perf_counter()
            for item_id in singles:
                client.post(
                    f"/items/{item_id}/transitions",
                    json={"action": "urge", "comment": "请加快整改"},
                ).raise_for_status()
            single_s, single_cpu = time.perf_counter() - t, cpu_seconds(server.pid) - cpu
            cpu, t = cpu_seconds(server.pid), time.perf_counter()
            body = client.post(
                "/items/batch", json={"action": "urge", "ids": batch, "comment": "请加快整改"}
            ).json()
            batch_s, batch_cpu = time.perf_counter() - t, cpu_seconds(server.pid) - cpu
            assert body["succeeded"] == n, body["results"][:3]
            ratio = single_s / batch_s
            ratios.append(ratio)
            cpu_ratios.append(single_cpu / max(batch_cpu, 0.01))
            print(
                f"[{name}] round {r + 1}: {n} single requests {n / single_s:7.0f} items/s "
                f"({single_s:.2f} s), one batch {n / batch_s:7.0f} items/s "
                f"({batch_s:.2f} s), ratio {ratio:.1f}x; server CPU {single_cpu:.2f} s "
                f"vs {batch_cpu:.2f} s, {cpu_ratios[-1]:.1f}x",
                flush=True,
            )
    median = statistics.median(ratios)
    print(
        f"[{name}] batch vs single requests: {median:.1f}x (median of {rounds}; target >= 10x); "
        f"server CPU {statistics.median(cpu_ratios):.1f}x less"
    )
    return median


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("RECTIFY_BENCH_PG_URL"))
    args = ap.parse_args()
    run("sqlite", f"sqlite:///{tempfile.mkdtemp()}/batch.db", args.items, args.rounds)
    if args.pg:
        url = _fresh_pg(args.pg)[0]
        try:
            run("postgresql", url, args.items, args.rounds)
        finally:
            _drop_pg(url)


if __name__ == "__main__":
    main()
