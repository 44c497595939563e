"""Import of a 10,000-row ledger: the endpoint against the per-row path it replaced.

(a) ``POST /items/import`` of an xlsx with ``--rows`` rows (half of them with
责任单位 and 整改时限, so created and assigned) on a real ``rectify serve
--no-worker``, from this process over HTTP; (b) same-run baseline: the same
rows through the per-item services the first-round importer called --
``new_item`` then ``transition(assign)`` for each row, one transaction --
in this process on a fresh database. Both print rows/s of wall time and of
CPU time (the server's, read from /proc, for (a)); CPU is the steadier figure
on a shared machine. Target (issue 14): at least 5,000 rows/s (was 855).
``--profile`` instead runs the import's three steps (parse, check, write) in
this process on a fresh SQLite database under cProfile, prints each step's
CPU time and the functions that cost the most.

    python bench/ledger_import.py [--rows 10000] [--pg URL] [--profile]
"""

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.scan import _drop_pg, _fresh_pg  # noqa: E402
from bench.server import cpu_seconds, served  # noqa: E402

ADMIN = "bench-admin-token-import-0123456789"
UNITS = 40


def _rows(n: int) -> list[list]:
    due = date.today() + timedelta(days=90)
    return [
        [
            f"问题{i}：审批材料不全",
            "巡察发现",
            "巡视巡察",
            "一般",
            *((f"u{i % UNITS:02d}", due) if i % 2 else (None, None)),
            "专项",
            f"EXT-{i}",
        ]
        for i in range(n)
    ]


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(["标题", "描述", "来源", "严重程度", "责任单位", "整改时限", "专项", "外部编号"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def endpoint(url: str, content: bytes, n: int) -> dict:
    from app.migrate import upgrade

    upgrade(url)
    with served(url, ADMIN, env={"RECTIFY_MAX_UPLOAD_MB": "100"}) as (server, client):
        for i in range(UNITS):
            client.post("/units", json={"code": f"u{i:02d}", "name": f"第{i}责任单位"})
        cpu, t = cpu_seconds(server.pid), time.perf_counter()
        r = client.post("/items/import", files={"file": ("台账.xlsx", content)})
        wall, cpu = time.perf_counter() - t, cpu_seconds(server.pid) - cpu
        r.raise_for_status()
        assert r.json()["created"] == n, r.text[:300]
    return {
        "rows": n,
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu, 2),
        "rows_per_s": round(n / wall),
        "rows_per_cpu_s": round(n / cpu),
    }


def per_row(url: str, rows: list[list]) -> dict:
    """The first-round importer's write path: the single-item services, row by row."""
    from app.auth.models import Role
    from app.auth.service import Caller
    from app.db import make_engine, unit_of_work
    from app.items.schemas import ItemCreate, TransitionRequest
    from app.items.service import new_item
    from app.items.transitions import transition
    from app.main import prepare
    from app.migrate import upgrade
    from app.units.models import UnitCreate
    from app.units.service import create_unit

    upgrade(url)
    engine = make_engine(url)
    prepare(engine)
    with unit_of_work(engine=engine) as session:
        for i in range(UNITS):
            create_unit(session, UnitCreate(code=f"u{i:02d}", name=f"第{i}责任单位"))
    caller = Caller(0, "bench", Role.supervisor)
    cpu, t = time.process_time(), time.perf_counter()
    with unit_of_work(engine=engine) as session:
        for title, description, _src, _sev, unit, due, campaign, ref in rows:
            item = new_item(
                session,
                caller,
                ItemCreate(
                    title=title,
                    description=description,
                    source="inspection",
                    campaign=campaign,
                    external_ref=ref,
                ),
            )
            if unit:
                request = TransitionRequest(action="assign", unit_code=unit, due_date=due)
                transition(session, caller, item.id, request, None)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    engine.dispose()
    n = len(rows)
    return {
        "rows": n,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": round(n / wall),
        "rows_per_cpu_s": round(n / cpu),
    }


def profile(n: int, top: int = 30) -> None:
    """parse -> check -> write in this process, under cProfile."""
    import cProfile
    import pstats

    from app.auth.models import Role
    from app.auth.service import Caller
    from app.db import make_engine, unit_of_work
    from app.ledger import importer
    from app.main import prepare
    from app.migrate import upgrade
    from app.units.models import UnitCreate
    from app.units.service import create_unit

    url = f"sqlite:///{tempfile.mkdtemp()}/profile.db"
    upgrade(url)
    engine = make_engine(url)
    prepare(engine)
    with unit_of_work(engine=engine) as session:
        for i in range(UNITS):
            create_unit(session, UnitCreate(code=f"u{i:02d}", name=f"第{i}责任单位"))
    content, options = _xlsx(_rows(n)), importer.Options()
    caller = Caller(0, "bench", Role.supervisor)
    cpu: dict[str, float] = {}
    profiler = cProfile.Profile()
    profiler.enable()
    with importer.few_collections():
        start = time.process_time()
        ledger = importer.parse(content, "台账.xlsx")
        cpu["parse"] = time.process_time() - start
        with unit_of_work(write=False, engine=engine) as session:
            planned = importer.check(session, ledger, options)
        cpu["check"] = time.process_time() - start - cpu["parse"]
        with unit_of_work(write=True, engine=engine) as session:
            importer.write(session, caller, planned, options)
        cpu["write"] = time.process_time() - start - cpu["parse"] - cpu["check"]
    profiler.disable()
    engine.dispose()
    total = sum(cpu.values())
    print({k: round(v, 2) for k, v in cpu.items()}, f"{n / total:.0f} rows per CPU second")
    print("(CPU times include cProfile's own overhead, about 2-3x)")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def run(name: str, fresh, n: int) -> None:
    rows = _rows(n)
    content = _xlsx(rows)
    url, drop = fresh()
    try:
        a = endpoint(url, content, n)
    finally:
        drop(url)
    print(f"[{name}] POST /items/import, {n} rows: {a}", flush=True)
    url, drop = fresh()
    try:
        b = per_row(url, rows)
    finally:
        drop(url)
    print(f"[{name}] baseline, per-row services: {b}", flush=True)
    print(
        f"[{name}] endpoint {a['rows_per_s']} rows/s wall, {a['rows_per_cpu_s']} rows per "
        f"server CPU second; per-row baseline {b['rows_per_s']} rows/s wall, "
        f"{b['rows_per_cpu_s']} per CPU second; speed-up "
        f"{a['rows_per_s'] / b['rows_per_s']:.1f}x wall, "
        f"{a['rows_per_cpu_s'] / b['rows_per_cpu_s']:.1f}x CPU (target >= 5,000 rows/s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--pg", default=os.environ.get("RECTIFY_BENCH_PG_URL"))
    ap.add_argument("--profile", action="store_true", help="cProfile the steps in-process")
    args = ap.parse_args()
    if args.profile:
        profile(args.rows)
        return
    run("sqlite", lambda: (f"sqlite:///{tempfile.mkdtemp()}/import.db", lambda _u: None), args.rows)
    if args.pg:
        run("postgresql", lambda: (_fresh_pg(args.pg)[0], _drop_pg), args.rows)


if __name__ == "__main__":
    main()
