"""The demo city's load time (``rectify demo``), on a fresh database each round.

Prints wall and CPU time of ``load_demo`` (planning, playing the year through
the engine's rules, writing the rows, committing), and as the same-run
baseline the database's bare cost of writing the same rows once more:
``CREATE TABLE ... AS SELECT`` copies of the demo's tables (items, history,
events, measures, progress reports, evidence, co-units) in one transaction.

    python bench/demo_load.py [--rounds 3] [--pg postgresql+psycopg://...]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = [
    "item",
    "history_entry",
    "event",
    "measure",
    "measure_progress",
    "evidence",
    "item_co_unit",
]

ROUND = """
import json, time
from sqlalchemy import text
from app.db import make_engine
from app.demo import load_demo
from app.main import prepare
from app.migrate import upgrade
import os, sys
url = os.environ["RECTIFY_DATABASE_URL"]
upgrade(url)
engine = make_engine(url)
prepare(engine)
cpu, wall = time.process_time(), time.perf_counter()
summary = load_demo(engine)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
started = time.perf_counter()
with engine.begin() as c:
    rows = 0
    for t in json.loads(sys.argv[1]):
        c.execute(text(f"CREATE TABLE bench_copy_{t} AS SELECT * FROM {t}"))
        rows += c.execute(text(f"SELECT count(*) FROM bench_copy_{t}")).scalar()
bare = time.perf_counter() - started
engine.dispose()
print(json.dumps({"wall": wall, "cpu": cpu, "bare": bare, "rows": rows, "summary": summary}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("RECTIFY_BENCH_PG_URL"))
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    for backend in backends:
        results = [one_round(backend, args.pg) for _ in range(args.rounds)]
        for n, r in enumerate(results, 1):
            print(
                f"[{backend}] round {n}: demo load {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU; "
                f"bare copy of its {r['rows']:,} rows {r['bare']:.2f} s"
            )
        best = min(results, key=lambda r: r["wall"])
        median = sorted(r["wall"] for r in results)[len(results) // 2]
        print(f"[{backend}] {best['summary']}")
        print(
            f"[{backend}] demo load: best {best['wall']:.2f} s, median {median:.2f} s "
            f"(target < 3 s); best CPU {min(r['cpu'] for r in results):.2f} s; "
            f"{best['wall'] / best['bare']:.1f}x the bare copy of its rows"
        )


def one_round(backend: str, pg: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    work = Path(tempfile.mkdtemp(prefix="rectify-demo-bench-"))
    env["RECTIFY_EVIDENCE_DIR"] = str(work / "evidence")
    db = None
    if backend == "sqlite":
        env["RECTIFY_DATABASE_URL"] = f"sqlite:///{work}/demo.db"
    else:
        env["RECTIFY_DATABASE_URL"], db = _fresh_pg(pg)
    try:
        out = subprocess.run(
            [sys.executable, "-c", ROUND, json.dumps(TABLES)],
            env=env,
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            sys.exit(out.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if db:
            _drop_pg(pg, db)


def _admin(url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    conn = psycopg.connect(
        host=base.host,
        port=base.port or 5432,
        user=base.username,
        dbname=base.database,
        autocommit=True,
    )
    return base, conn


def _fresh_pg(url: str) -> tuple[str, str]:
    base, conn = _admin(url)
    name = f"rectify_bench_{uuid.uuid4().hex[:8]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False), name


def _drop_pg(url: str, name: str) -> None:
    _base, conn = _admin(url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
