"""The demo city loaded at a fixed moment with a fixed history key, every table dumped
as text: two commits' dumps are equal when their loads store the same result.

    python bench/demo_dump.py OUT [--pg postgresql+psycopg://...]
    cmp OUT-of-one-commit OUT-of-another

The engine's clock is a ``test_clock`` row set before the load (the demo plays its
year up to it) and ``RECTIFY_HISTORY_KEY`` is fixed, so items, history (hashes and
MACs), events, measures and the evidence files' names come out the same each time;
only the events' random ids are left out (and PostgreSQL's transaction ids). On
PostgreSQL every value is dumped as the server's text (a JSON column's stored text).
"""

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

MOMENT = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
RANDOM = {"event_id", "txid"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pg", help="a PostgreSQL URL: a fresh database is made on its server")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rectify-demo-dump-"))
    os.environ["RECTIFY_EVIDENCE_DIR"] = str(work / "evidence")
    os.environ["RECTIFY_HISTORY_KEY"] = "k" * 40
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.demo_load import _drop_pg, _fresh_pg

    url, db = _fresh_pg(args.pg) if args.pg else (f"sqlite:///{work}/demo.db", None)
    os.environ["RECTIFY_DATABASE_URL"] = url
    try:
        dump(url, work, args.out)
    finally:
        if db:
            _drop_pg(args.pg, db)


def dump(url: str, work: Path, out: str) -> None:
    from sqlalchemy import inspect, text

    from app.clock.models import TestClock
    from app.db import make_engine, table_of
    from app.demo import load_demo
    from app.main import prepare
    from app.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    prepare(engine)
    with engine.begin() as c:
        c.execute(table_of(TestClock).insert(), {"id": 1, "now": MOMENT})
    print(load_demo(engine))
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as c, open(out, "w") as f:
        for table in sorted(inspect(engine).get_table_names()):
            if table == "alembic_version":
                continue
            columns = [x["name"] for x in inspect(engine).get_columns(table)]
            columns = [name for name in columns if name not in RANDOM]
            order = "id" if "id" in columns else ", ".join(columns[:2])
            shown = ", ".join(f"{name}::text" if postgres else name for name in columns)
            rows = c.execute(text(f"SELECT {shown} FROM {table} ORDER BY {order}")).all()
            f.write(f"## {table} {len(rows)}\n")
            f.writelines(repr(tuple(row)) + "\n" for row in rows)
        files = sorted(
            str(p.relative_to(work)) for p in (work / "evidence").rglob("*") if p.is_file()
        )
        f.write(f"## files {len(files)}\n" + "".join(name + "\n" for name in files))
    engine.dispose()


if __name__ == "__main__":
    main()
