"""List queries and the summary report at 1,000,000 items, and RSS under load.

Populates a database with N items spread over units, sources, campaigns,
states, lights and due dates (a fourth of the items with 1-3 co-units, so ``unit=``
and a unit key's scope match the lead or a co-unit), starts one real ``rectify serve --no-worker``
process (uvicorn) on it and measures, over HTTP from another process:
- ``GET /items`` p50/p95 for a set of typical filters (target p95 < 50 ms),
- ``GET /reports/summary`` (target < 1 s),
- the server's peak RSS after the load (target < 200 MB),
with, as the same-run baseline, the bare SQL of each list query timed on a
direct connection.

    python bench/queries.py [--items 1000000] [--requests 100] [--pg URL] [--no-sqlite]
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

from sqlalchemy import text  # noqa: E402

from bench.scan import _drop_pg, _fresh_pg  # noqa: E402
from bench.server import served  # noqa: E402

ADMIN = "bench-admin-token-queries-0123456789"
FILTERS = [
    "state=rectifying",
    "unit=d07",
    "unit=c03",
    "unit=c03&state=rectifying",
    "source=hotline&light=red",
    "overdue=true",
    "campaign=key-projects&state=closed",
    "review_pending=true",
    "due_after=2026-06-01&due_before=2026-06-30",
    "state=assigned&source=inspection&unit=c01",
]
SQL = {  # the bare query each filter amounts to (newest first, one page; by unit: the
    # newest page of the lead and co-unit branches, app.items.scope.newest_first)
    "state=rectifying": "state = 'rectifying'",
    "unit=d07": "id IN (SELECT id FROM (SELECT id FROM item WHERE unit_code = 'd07' "
    "ORDER BY id DESC LIMIT 51) AS lead UNION ALL SELECT id FROM (SELECT item_id AS id "
    "FROM item_co_unit WHERE unit_code = 'd07' ORDER BY item_id DESC LIMIT 51) AS co)",
    "overdue=true": "light = 'red'",
    "review_pending=true": "review_pending",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--pg", default=os.environ.get("RECTIFY_BENCH_PG_URL"))
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    runs = [] if args.no_sqlite else [("sqlite", f"sqlite:///{tempfile.mkdtemp()}/queries.db")]
    if args.pg:
        runs.append(("postgresql", _fresh_pg(args.pg)[0]))
    for name, url in runs:
        run(name, url, args.items, args.requests)


def populate(engine, n: int) -> None:
    sqlite = engine.dialect.name == "sqlite"
    ts = "'2026-03-01 00:00:00.000000'" if sqlite else "TIMESTAMPTZ '2026-03-01 00:00:00+00'"
    units = ["city"] + [f"c{i:02d}" for i in range(1, 16)] + [f"d{i:02d}" for i in range(1, 73)]
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO unit (code, name, parent_code, path, created_at) VALUES "
                f"('city', '某市', NULL, '/city/', {ts})"
            )
        )
        for code in units[1:]:
            c.execute(
                text(
                    f"INSERT INTO unit (code, name, parent_code, path, created_at) VALUES "
                    f"('{code}', '单位{code}', 'city', '/city/{code}/', {ts})"
                )
            )
        states = (
            "CASE WHEN i % 10 < 6 THEN 'closed' WHEN i % 10 < 8 THEN 'rectifying' "
            "WHEN i % 10 = 8 THEN 'assigned' ELSE 'found' END"
        )
        light = (
            "CASE WHEN i % 10 IN (6, 8) AND i % 7 = 0 THEN 'red' "
            "WHEN i % 10 IN (6, 7, 8) THEN 'green' ELSE 'none' END"
        )
        source = (
            "CASE i % 8 WHEN 0 THEN 'inspection' WHEN 1 THEN 'audit' WHEN 2 THEN "
            "'assessment' WHEN 3 THEN 'hotline' WHEN 4 THEN 'petition' WHEN 5 THEN "
            "'analysis' WHEN 6 THEN 'talk' ELSE 'other' END"
        )
        unit = (
            "CASE WHEN i % 87 < 15 THEN 'c' || substr('0' || (i % 87 + 1), -2) "
            "ELSE 'd' || substr('0' || (i % 87 - 14), -2) END"
        )
        campaign = "CASE WHEN i % 13 = 0 THEN 'key-projects' ELSE NULL END"
        if sqlite:
            gen = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < {n})"
            due = "date('2026-01-01', '+' || (i % 365) || ' days')"
            rp = "(i % 10 = 7 AND i % 3 = 0)"
            src = "FROM s"
        else:
            gen = ""
            unit = unit.replace(
                "substr('0' || (i % 87 + 1), -2)", "lpad((i % 87 + 1)::text, 2, '0')"
            )
            unit = unit.replace(
                "substr('0' || (i % 87 - 14), -2)", "lpad((i % 87 - 14)::text, 2, '0')"
            )
            due = "DATE '2026-01-01' + (i % 365)"
            rp = "(i % 10 = 7 AND i % 3 = 0)"
            src = f"FROM generate_series(1, {n}) AS i"
        c.execute(
            text(
                f"{gen} INSERT INTO item (number, title, description, source, severity, "
                "unit_code, campaign, state, review_pending, workflow_name, workflow_version, "
                "due_date, light, escalation_level, ladder_fired, version, tags, created_at, "
                "updated_at) "
                f"SELECT 'Q-' || i, '问题' || i || '：项目审批材料不全', '', {source}, 'normal', "
                f"{unit}, "
                f"{campaign}, {states}, {rp}, 'rectification', 1, {due}, {light}, 0, 0, 1, '[]', "
                f"{ts}, {ts} {src}"
            )
        )
        # co-units on a pseudo-random fourth of the items, 1 to 3 each (offices name
        # cooperating units on a fifth to a third of their items): counties ('c..') for a
        # department-led item, departments ('d..') for a county-led one (never the lead).
        # Drawn from a hash of the id, not from id residues, so that they do not line up
        # with the states, sources and leads (also drawn from residues of the id).
        h = "(i.id * 2654435761 % 1000003)"
        county = f"({h} / 12 + k.k * 5) % 15 + 1"
        department = f"({h} / 12 + k.k * 24) % 72 + 1"
        if sqlite:
            county, department = (f"substr('0' || ({n}), -2)" for n in (county, department))
        else:
            county, department = (f"lpad(({n})::text, 2, '0')" for n in (county, department))
        other = f"CASE WHEN i.unit_code LIKE 'd%' THEN 'c' || {county} ELSE 'd' || {department} END"
        ks = "(SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) AS k"
        c.execute(
            text(
                f"INSERT INTO item_co_unit (item_id, unit_code) SELECT i.id, {other} "
                f"FROM item AS i CROSS JOIN {ks} WHERE {h} % 4 = 0 AND k.k <= {h} / 4 % 3"
            )
        )
        as_json = (
            "'[\"' || group_concat(l.unit_code, '\",\"') || '\"]'"
            if sqlite
            else "json_agg(l.unit_code)"
        )
        c.execute(
            text(
                f"UPDATE item SET co_unit_codes = (SELECT {as_json} FROM item_co_unit l "
                "WHERE l.item_id = item.id) "
                "WHERE id IN (SELECT item_id FROM item_co_unit)"
            )
        )
        c.execute(text("ANALYZE"))


def _rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(name: str, url: str, n: int, requests: int) -> None:
    from app.db import make_engine
    from app.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    populate(engine, n)
    print(f"[{name}] populated {n:,} items in {time.perf_counter() - t0:.1f} s")

    try:
        quiet = {"RECTIFY_LOG_LEVEL": "WARNING"}
        with served(url, ADMIN, env=quiet, api=False, timeout=60) as (server, client):
            key = {"name": "bench-c03", "role": "unit", "unit_code": "c03"}
            unit_token = client.post("/api/v1/keys", json=key).json()["token"]
            as_unit = {"Authorization": f"Bearer {unit_token}"}
            for query in FILTERS + ["(unit key c03)", "(unit key c03)&state=rectifying"]:
                times = []
                headers = as_unit if query.startswith("(unit key") else None
                params = query.removeprefix("(unit key c03)").lstrip("&")
                for _ in range(requests):
                    t = time.perf_counter()
                    r = client.get(f"/api/v1/items?{params}&limit=50", headers=headers)
                    times.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                bare = _bare_ms(engine, SQL.get(query))
                extra = f", bare SQL {bare:.2f} ms" if bare is not None else ""
                print(
                    f"[{name}] GET /items?{query}: p50 {statistics.median(times):.1f} ms, "
                    f"p95 {p95:.1f} ms{extra}"
                )
            for path in ("/api/v1/reports/summary", "/api/v1/reports/units"):
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    client.get(path).raise_for_status()
                    times.append(time.perf_counter() - t)
                print(
                    f"[{name}] GET {path}: best {min(times) * 1000:.0f} ms, "
                    f"median {statistics.median(times) * 1000:.0f} ms"
                )
            print(f"[{name}] server peak RSS: {_rss_peak_mb(server.pid):.0f} MB")
    finally:
        engine.dispose()
        if name == "postgresql":
            _drop_pg(url)


def _bare_ms(engine, where: str | None) -> float | None:
    if where is None:
        return None
    sql = text(f"SELECT * FROM item WHERE {where} ORDER BY id DESC LIMIT 51")
    with engine.connect() as c:
        best = float("inf")
        for _ in range(20):
            t = time.perf_counter()
            c.execute(sql).all()
            best = min(best, time.perf_counter() - t)
    return best * 1000


if __name__ == "__main__":
    main()
