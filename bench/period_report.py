"""The period report (月度调度) at 1,000,000 items, over HTTP, against its baselines.

Populates N items (created over 2026, 60 % closed -- most rectified, some
withdrawn -- due dates over the year, 87 units in two levels: 15 counties
and 52 departments at the top, 20 bodies below them), starts one real
``rectify serve --no-worker`` and times, best and median of ``--requests``:
``GET /reports/period`` for March by unit (rolled up, ranked) and by source;
as same-run baselines the existing ``GET /reports/summary`` and the bare
SQL ``SELECT unit_code, count(*) FROM item GROUP BY unit_code`` (one scan).
Target (issue 14): the period report under 1 s at 1M items on PostgreSQL.

    RECTIFY_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1/postgres \\
        python bench/period_report.py [--items 1000000] [--requests 5] [--sqlite]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.main import prepare  # noqa: E402
from app.workflow.registry import registry  # noqa: E402
from bench.scan import _drop_pg, _fresh_pg  # noqa: E402
from bench.server import served  # noqa: E402

ADMIN = "bench-admin-token-period-0123456789"
TOPS = [f"c{i:02d}" for i in range(1, 16)] + [f"d{i:02d}" for i in range(1, 53)]
BELOW = [(f"s{i:02d}", TOPS[15 + i]) for i in range(20)]


def populate(engine, n: int) -> None:
    sqlite = engine.dialect.name == "sqlite"
    ts = "'2026-01-01 00:00:00'" if sqlite else "TIMESTAMPTZ '2026-01-01 00:00:00+00'"
    codes = TOPS + [c for c, _ in BELOW]
    prepare(engine)  # the workflows, as the service loads them: items pin the latest
    version = registry.latest("rectification").version
    with engine.begin() as c:
        for code in TOPS:
            c.execute(
                text(
                    f"INSERT INTO unit (code, name, path, created_at) "
                    f"VALUES ('{code}', '单位{code}', '/{code}/', {ts})"
                )
            )
        for code, parent in BELOW:
            c.execute(
                text(
                    f"INSERT INTO unit (code, name, parent_code, path, created_at) "
                    f"VALUES ('{code}', '单位{code}', '{parent}', '/{parent}/{code}/', {ts})"
                )
            )
        units = (
            "CASE i % 87 " + " ".join(f"WHEN {k} THEN '{u}'" for k, u in enumerate(codes)) + " END"
        )
        source = (
            "CASE i % 8 WHEN 0 THEN 'inspection' WHEN 1 THEN 'audit' WHEN 2 THEN "
            "'assessment' WHEN 3 THEN 'hotline' WHEN 4 THEN 'petition' WHEN 5 THEN "
            "'analysis' WHEN 6 THEN 'talk' ELSE 'other' END"
        )
        closed = "i % 10 < 6"
        state = (
            f"CASE WHEN {closed} THEN 'closed' WHEN i % 10 < 8 THEN 'rectifying' "
            "ELSE 'assigned' END"
        )
        resolution = (
            f"CASE WHEN {closed} THEN "
            "(CASE WHEN i % 20 = 0 THEN 'withdrawn' ELSE 'rectified' END) END"
        )
        if sqlite:
            gen = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < {n}) "
            created = "datetime('2026-01-01', '+' || (i % 330) || ' days')"
            closed_at = (
                f"CASE WHEN {closed} THEN "
                "datetime('2026-01-01', '+' || (i % 330 + i % 40) || ' days') END"
            )
            due = "date('2026-01-01', '+' || (i % 330 + 30) || ' days')"
            src = "FROM s"
        else:
            gen = ""
            created = "TIMESTAMPTZ '2026-01-01 00:00:00+00' + (i % 330) * INTERVAL '1 day'"
            closed_at = (
                f"CASE WHEN {closed} THEN TIMESTAMPTZ '2026-01-01 00:00:00+00' + "
                "(i % 330 + i % 40) * INTERVAL '1 day' END"
            )
            due = "DATE '2026-01-01' + (i % 330 + 30)"
            src = f"FROM generate_series(1, {n}) AS i"
        c.execute(
            text(
                f"{gen}INSERT INTO item (number, title, description, source, severity, unit_code, "
                "state, review_pending, resolution, workflow_name, workflow_version, due_date, "
                "light, escalation_level, ladder_fired, version, history_seq, history_hash, tags, "
                "redo_count, duplicate_count, created_at, updated_at, closed_at) "
                f"SELECT 'P-' || i, '问题' || i, '', {source}, 'normal', {units}, {state}, false, "
                f"{resolution}, 'rectification', {version}, {due}, 'green', i % 4, 0, 1, 0, "
                f"'{'0' * 64}', '[]', 0, 0, {created}, {created}, {closed_at} {src}"
            )
        )
    # A database that has been running: autovacuum has visited the item table (its
    # visibility map lets PostgreSQL answer from ix_item_period alone) and analysed it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE item" if not sqlite else "ANALYZE"))


def _timed(client: httpx.Client, path: str, params: dict, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, params=params)
        if r.is_error:
            raise SystemExit(f"{path} {params}: {r.status_code} {r.text[:500]}")
        times.append(time.perf_counter() - t)
    return times


def run(name: str, url: str, n: int, requests: int) -> None:
    from app.db import make_engine
    from app.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    populate(engine, n)
    print(f"[{name}] populated {n:,} items in {time.perf_counter() - t0:.1f} s", flush=True)
    march = {"from": "2026-03-01", "to": "2026-03-31"}
    try:
        with served(url, ADMIN, timeout=120) as (server, client):
            cases = [
                (
                    "GET /reports/period?group=unit (March)",
                    "/reports/period",
                    {**march, "group": "unit"},
                ),
                (
                    "GET /reports/period?group=unit (December: every item in range)",
                    "/reports/period",
                    {"from": "2026-12-01", "to": "2026-12-31", "group": "unit"},
                ),
                (
                    "GET /reports/period?group=source (March)",
                    "/reports/period",
                    {**march, "group": "source"},
                ),
                (
                    "GET /reports/period?group=unit&format=xlsx",
                    "/reports/period",
                    {**march, "group": "unit", "format": "xlsx"},
                ),
                (
                    "GET /reports/period?group=unit&format=docx",
                    "/reports/period",
                    {**march, "group": "unit", "format": "docx"},
                ),
                ("baseline GET /reports/summary", "/reports/summary", {}),
            ]
            for label, path, params in cases:
                times = _timed(client, path, params, requests)
                print(
                    f"[{name}] {label}: best {min(times) * 1000:.0f} ms, "
                    f"median {statistics.median(times) * 1000:.0f} ms",
                    flush=True,
                )
        with engine.connect() as c:
            best = float("inf")
            for _ in range(requests):
                t = time.perf_counter()
                c.execute(text("SELECT unit_code, count(*) FROM item GROUP BY unit_code")).all()
                best = min(best, time.perf_counter() - t)
        print(f"[{name}] baseline bare SQL GROUP BY unit_code: best {best * 1000:.0f} ms")
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--pg", default=os.environ.get("RECTIFY_BENCH_PG_URL"))
    ap.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    args = ap.parse_args()
    if args.sqlite or not args.pg:
        run("sqlite", f"sqlite:///{tempfile.mkdtemp()}/period.db", args.items, args.requests)
    if args.pg:
        url, _db = _fresh_pg(args.pg)
        try:
            run("postgresql", url, args.items, args.requests)
        finally:
            _drop_pg(url)


if __name__ == "__main__":
    main()
