"""Ledger benchmark: export 100,000 items through the real endpoint, import 10,000 rows.

    python bench/ledger_export.py [--items 100000] [--import-rows 10000]

The server is the real app under uvicorn (in a thread), the client streams the
response with httpx and discards it. Every measurement runs in a process of
its own, so its peak RSS (``ru_maxrss``) is its own; "start RSS" is the
process after imports and app start-up, before the measured work.

Figures printed:
- export xlsx and csv of all items: rows/s and peak RSS; the same export
  filtered to a fifth of the items shows whether memory stays flat;
- xlsx time to first byte, total time and CPU (server and client share the
  process);
- baselines from the same run, the same rows straight from SQL: a bare
  openpyxl write-only dump (saved to a file), and a bare streaming writer (the
  app's own ``app/ledger/xlsx.py`` fed raw rows, bytes discarded); the ratios
  endpoint / baseline of wall and CPU time (target: CPU <= 1.2x bare);
- import of ``--import-rows`` rows (half of them assigned) in one request.
"""

import argparse
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-admin-token-0123456789"
UNITS = [("city", "某市", None)] + [(f"u{i:02d}", f"第{i}责任单位", "city") for i in range(1, 41)]


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _env(url: str) -> None:
    os.environ.update(
        RECTIFY_DATABASE_URL=url,
        RECTIFY_BOOTSTRAP_ADMIN_TOKEN=TOKEN,
        RECTIFY_TEST_CLOCK="0",
        RECTIFY_MAX_UPLOAD_MB="100",
        RECTIFY_EVIDENCE_DIR=tempfile.mkdtemp(),
    )


def seed(url: str, n: int) -> dict:
    """An empty schema (kept as a template) and a copy with ``n`` items inserted in bulk."""
    _env(url)
    from sqlalchemy import insert

    from app.db import make_engine, unit_of_work
    from app.items.models import Item
    from app.main import prepare
    from app.migrate import upgrade
    from app.units.models import UnitCreate
    from app.units.service import create_unit

    db = Path(url.removeprefix("sqlite:///"))
    upgrade(url)
    shutil.copy(db, db.with_name("empty.db"))
    engine = make_engine(url)
    prepare(engine)
    rng = random.Random(7)
    sources = ["inspection", "audit", "assessment", "hotline", "petition"]
    started = time.perf_counter()
    with unit_of_work(engine=engine) as session:
        for code, name, parent in UNITS:
            create_unit(session, UnitCreate(code=code, name=name, parent_code=parent))
        moment = datetime(2026, 1, 5, 2, tzinfo=UTC)
        for start in range(0, n, 5000):
            rows = []
            for i in range(start + 1, min(n, start + 5000) + 1):
                assigned = i % 3 != 0
                rows.append(
                    {
                        "id": i,
                        "number": f"2026-{i:06d}",
                        "title": f"问题{i}：项目审批材料不全，资金拨付不及时",
                        "description": "巡察发现：相关制度执行不严，需限期整改并报送佐证材料。",
                        "source": sources[i % len(sources)],
                        "category": "工程建设",
                        "severity": "normal",
                        "unit_code": UNITS[1 + i % 40][0] if assigned else None,
                        "campaign": f"专项{i % 7}",
                        "state": "rectifying" if assigned else "found",
                        "review_pending": False,
                        "workflow_name": "rectification",
                        "workflow_version": 1,
                        "due_date": date(2026, 3, 1) + timedelta(days=rng.randrange(300))
                        if assigned
                        else None,
                        "light": "green" if assigned else "none",
                        "escalation_level": 0,
                        "ladder_fired": 0,
                        "version": 1,
                        "tags": [],
                        "external_ref": f"EXT-{i}",
                        "created_at": moment,
                        "updated_at": moment,
                    }
                )
            session.execute(insert(Item), rows)
    engine.dispose()
    return {"seeded": n, "seconds": round(time.perf_counter() - started, 2)}


def _serve(url: str):
    _env(url)
    import uvicorn

    from app.db import make_engine
    from app.main import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(make_engine(url), migrate=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}/api/v1"


def export(url: str, fmt: str, source: str | None) -> dict:
    import httpx

    server, base = _serve(url)
    start_rss = _rss_mb()
    params = {"format": fmt, **({"source": source} if source else {})}
    size = 0
    started, cpu = time.perf_counter(), time.process_time()
    first_byte = first_byte_cpu = None
    with httpx.stream(
        "GET",
        f"{base}/items/export",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=None,
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_raw():  # as it arrives: iter_bytes(n) would wait for n bytes
            if first_byte is None:
                first_byte = time.perf_counter() - started
                first_byte_cpu = time.process_time() - cpu
            size += len(chunk)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _rss_mb()
    server.should_exit = True
    from sqlalchemy import create_engine, func, select

    from app.items.models import Item

    stmt = select(func.count(Item.id))
    if source:
        stmt = stmt.where(Item.source == source)
    with create_engine(url).connect() as conn:
        rows = conn.scalar(stmt)
    return {
        "format": fmt,
        "rows": rows,
        "bytes": size,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "first_byte_s": round(first_byte or 0, 3),
        "first_byte_cpu_s": round(first_byte_cpu or 0, 3),
        "rows_per_s": round(rows / seconds),
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak,
    }


def baseline(url: str) -> dict:
    """openpyxl write-only, the same 15 columns, rows straight from SQL; nothing else."""
    _env(url)
    from openpyxl import Workbook
    from sqlalchemy import create_engine, select

    from app.items.models import Item
    from app.units.models import Unit

    start_rss = _rss_mb()
    cols = (
        Item.number,
        Item.title,
        Item.description,
        Item.source,
        Item.category,
        Item.severity,
        Unit.name,
        Item.due_date,
        Item.campaign,
        Item.external_ref,
        Item.state,
        Item.light,
        Item.escalation_level,
        Item.created_at,
        Item.closed_at,
    )
    started, cpu = time.perf_counter(), time.process_time()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("items")
    ws.append([c.key for c in cols])
    count = 0
    stmt = select(*cols).outerjoin(Unit, Unit.code == Item.unit_code).order_by(Item.id)
    with create_engine(url).connect() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=1000).execute(stmt):
            values = list(row)
            values[13] = values[13].replace(tzinfo=None)
            ws.append(values)
            count += 1
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
        wb.save(out.name)
        size = os.path.getsize(out.name)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "rows": count,
        "bytes": size,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": round(count / seconds),
        "start_rss_mb": start_rss,
        "peak_rss_mb": _rss_mb(),
    }


def baseline_stream(url: str) -> dict:
    """The streaming xlsx writer fed the same 15 columns straight from SQL; bytes discarded."""
    _env(url)
    from sqlalchemy import create_engine, select

    from app.items.models import Item
    from app.ledger.xlsx import xlsx_stream
    from app.units.models import Unit

    start_rss = _rss_mb()
    cols = (
        Item.number,
        Item.title,
        Item.description,
        Item.source,
        Item.category,
        Item.severity,
        Unit.name,
        Item.due_date,
        Item.campaign,
        Item.external_ref,
        Item.state,
        Item.light,
        Item.escalation_level,
        Item.created_at,
        Item.closed_at,
    )
    started, cpu = time.perf_counter(), time.process_time()
    stmt = select(*cols).outerjoin(Unit, Unit.code == Item.unit_code).order_by(Item.id)
    size = count = 0
    first_byte = None
    with create_engine(url).connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
        batches = (list(map(tuple, part)) for part in result.partitions(1000))
        header = [c.key for c in cols]
        for chunk in xlsx_stream("items", header, [12] * len(cols), batches):
            first_byte = first_byte or time.perf_counter() - started
            size += len(chunk)
        count = conn.scalar(select(func_count()))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "rows": count,
        "bytes": size,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "first_byte_s": round(first_byte or 0, 3),
        "rows_per_s": round(count / seconds),
        "start_rss_mb": start_rss,
        "peak_rss_mb": _rss_mb(),
    }


def func_count():
    from sqlalchemy import func

    from app.items.models import Item

    return func.count(Item.id)


def import_rows(url: str, n: int) -> dict:
    import io

    import httpx
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(["标题", "描述", "来源", "严重程度", "责任单位", "整改时限", "专项", "外部编号"])
    due = date.today() + timedelta(days=90)
    for i in range(n):
        unit, when = (f"u{1 + i % 40:02d}", due) if i % 2 else (None, None)
        ws.append([f"问题{i}：审批材料不全", "巡察发现", "巡视巡察", "一般", unit, when, "专项", i])
    buf = io.BytesIO()
    wb.save(buf)
    content = buf.getvalue()

    server, base = _serve(url)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for code, name, parent in UNITS:
        body = {"code": code, "name": name, "parent_code": parent}
        httpx.post(f"{base}/units", json=body, headers=headers).raise_for_status()
    start_rss = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    r = httpx.post(
        f"{base}/items/import",
        files={"file": ("ledger.xlsx", content)},
        headers=headers,
        timeout=None,
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server.should_exit = True
    if r.status_code != 201:
        raise SystemExit(f"import failed: {r.status_code} {r.text[:500]}")
    body = r.json()
    return {
        "rows": n,
        "created": body["created"],
        "assigned": body["assigned"],
        "file_bytes": len(content),
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": round(n / seconds),
        "start_rss_mb": start_rss,
        "peak_rss_mb": _rss_mb(),
    }


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rectify-bench-"))
    url = f"sqlite:///{work / 'bench.db'}"
    print(f"seeding {args.items} items into {url} ...", flush=True)
    print("seed", _child("seed", url, str(args.items)), flush=True)

    endpoint, bare, stream = [], [], []
    for _ in range(2):
        endpoint.append(_child("export", url, "xlsx"))
        print("export xlsx", endpoint[-1], flush=True)
        bare.append(_child("baseline", url))
        print("baseline openpyxl write-only from SQL", bare[-1], flush=True)
        stream.append(_child("baseline-stream", url))
        print("baseline streaming writer from SQL", stream[-1], flush=True)
    print("export csv", _child("export", url, "csv"), flush=True)
    small = _child("export", url, "xlsx", "audit")
    print("export xlsx, source=audit (a fifth)", small, flush=True)
    keys = ("seconds", "cpu_s", "first_byte_s")
    best = {k: min(r[k] for r in endpoint) for k in keys}
    base = {k: min(r[k] for r in bare) for k in ("seconds", "cpu_s")}
    raw = {k: min(r[k] for r in stream) for k in ("seconds", "cpu_s")}
    print(
        f"xlsx endpoint (best of 2 each): first byte {best['first_byte_s']} s "
        f"(target <= 1 s), total {best['seconds']} s, CPU {best['cpu_s']} s; "
        f"vs bare openpyxl: {best['seconds'] / base['seconds']:.2f}x the wall time, "
        f"{best['cpu_s'] / base['cpu_s']:.2f}x the CPU time; vs bare streaming writer: "
        f"{best['seconds'] / raw['seconds']:.2f}x the wall time, "
        f"{best['cpu_s'] / raw['cpu_s']:.2f}x the CPU time (target <= 1.2x); "
        f"endpoint {round(endpoint[0]['rows'] / best['seconds'])} rows/s; peak RSS "
        f"{max(r['peak_rss_mb'] for r in endpoint)} MB for {endpoint[0]['rows']} rows vs "
        f"{small['peak_rss_mb']} MB for {small['rows']} rows",
        flush=True,
    )

    empty = work / "import.db"
    shutil.copy(work / "empty.db", empty)
    imported = _child("import", f"sqlite:///{empty}", str(args.import_rows))
    print(f"import {args.import_rows} rows in one request", imported, flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    if len(sys.argv) > 1 and sys.argv[1] in (
        "seed",
        "export",
        "baseline",
        "baseline-stream",
        "import",
    ):
        command, rest = sys.argv[1], sys.argv[2:]
        if command == "seed":
            result = seed(rest[0], int(rest[1]))
        elif command == "export":
            result = export(rest[0], rest[1], rest[2] if len(rest) > 2 else None)
        elif command == "baseline":
            result = baseline(rest[0])
        elif command == "baseline-stream":
            result = baseline_stream(rest[0])
        else:
            result = import_rows(rest[0], int(rest[1]))
        print(json.dumps(result))
    else:
        main()
