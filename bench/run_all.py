"""Run every benchmark and write bench/results.md.

Each benchmark prints its own figures and its same-run baseline; this runner
runs them one after another (never in parallel: they would measure each
other), keeps their output, and writes it with the exact command and the
issue's target next to each. PostgreSQL runs are included when
RECTIFY_BENCH_PG_URL is set.

    RECTIFY_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1/postgres \\
        python bench/run_all.py [--quick]
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES = [
    (
        "Transition throughput vs a bare endpoint",
        "transition_throughput.py",
        [],
        ["--requests", "500", "--rounds", "1"],
        "engine >= 100 % of the bare endpoint on SQLite, >= 90 % on PostgreSQL (one process);"
        " 2 API processes on PostgreSQL >= 1.6x one, bare scaling beside (issue 17)",
    ),
    (
        "Deadline scan at 1M open items",
        "scan.py",
        [],
        ["--items", "100000", "--due", "2000"],
        "cost independent of items not due (issue 3); ratio to a bare UPDATE printed",
    ),
    (
        "Webhook deliveries vs bare httpx",
        "deliveries.py",
        [],
        ["--events", "2000"],
        ">= 50 % of a bare httpx client (issue 4)",
    ),
    (
        "List queries, reports and RSS at 1M items",
        "queries.py",
        [],
        ["--items", "100000", "--requests", "20"],
        "list p95 < 50 ms; summary < 1 s; RSS < 200 MB (issue 6)",
    ),
    (
        "Ledger export and import",
        "ledger_export.py",
        [],
        ["--items", "10000", "--import-rows", "1000"],
        "flat memory; rows/s printed; 10,000-row import (issue 5); xlsx first byte <= 1 s"
        " at 100k rows, CPU <= 1.2x a bare writer (issue 17)",
    ),
    (
        "Peak RSS under hostile requests",
        "hostile_rss.py",
        [],
        ["--body-mb", "20"],
        "zip bomb and 8 concurrent 50 MB chunked bodies: each under +50 MB (issue 10)",
    ),
    (
        "Console pages in Chromium on the demo city",
        "console_pages.py",
        [],
        [],
        "under 300 KB and 1 s per page (issue 19)",
    ),
    (
        "Ledger import vs the per-row path",
        "ledger_import.py",
        [],
        ["--rows", "2000"],
        ">= 5,000 rows/s for 10,000 rows (issue 14; was 855)",
    ),
    (
        "Batch urge (催办) vs single requests",
        "batch_urge.py",
        [],
        ["--rounds", "1"],
        "one batch of 500 >= 10x the throughput of 500 single requests (issue 14)",
    ),
    (
        "Demo load",
        "demo_load.py",
        [],
        ["--rounds", "1"],
        "under 5 s (issue 16), under 3 s (issue 17): bulk inserts, one transaction",
    ),
    (
        "First run: clone to the first /readyz 200",
        "first_run.py",
        [],
        [],
        "clone-to-ready time printed, phase by phase, beside a bare uvicorn hello-world (issue 17)",
    ),
    (
        "Period report (月度调度) at 1M items",
        "period_report.py",
        [],
        ["--items", "100000", "--requests", "3"],
        "< 1 s at 1M items on PostgreSQL (issue 14)",
    ),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--out", default=str(HERE / "results.md"))
    args = ap.parse_args()
    pg = os.environ.get("RECTIFY_BENCH_PG_URL")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python bench/run_all.py{' --quick' if args.quick else ''}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; PostgreSQL "
        f"{'included' if pg else 'not included (set RECTIFY_BENCH_PG_URL)'}.",
        "Every figure comes with its baseline measured in the same run.",
        "",
    ]
    for title, script, full_args, quick_args, target in BENCHES:
        cmd = [sys.executable, str(HERE / script), *(quick_args if args.quick else full_args)]
        shown = "python bench/" + " ".join([script, *cmd[2:]])
        print(f"== {title}: {shown}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
        took = time.perf_counter() - started
        output = "\n".join(
            line for line in proc.stdout.splitlines() if "statutory holiday data" not in line
        )
        print(output, flush=True)
        lines += [
            f"## {title}",
            "",
            f"Target: {target}.",
            "",
            f"Command: `{shown}` ({took:.0f} s, exit {proc.returncode})",
            "",
            "```",
            output.strip(),
            "```",
            "",
        ]
        if proc.returncode:
            lines += ["stderr (tail):", "", "```", proc.stderr.strip()[-2000:], "```", ""]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
